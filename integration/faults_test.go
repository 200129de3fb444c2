package integration

import (
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// With a fifth of the reads failing with 503, a tenth cut short, and
// random latency, every state of the fixture still reads right: transient
// faults are retried, and a query either gives the true answer or fails.
func TestFaultyStorageGivesRightAnswersOrErrors(t *testing.T) {
	states := fixture.Truth(t)
	srv, bucket, prefix := fixtureOnS3(t)
	proxy := newFaultProxy(t, srv.Endpoint())
	proxy.set(faults{ErrorRate: 0.2, ShortRate: 0.1, MaxLatency: 20 * time.Millisecond})
	url := s3URL(proxy.URL(), bucket, prefix)

	var failures int
	for i, s := range append(states, states[len(states)-1]) {
		var params []string
		if i < len(states) {
			params = []string{"time", fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)}
		}
		db := openReplica(t, url, append(params, "cache_size", "64KiB")...)
		got, err := queryOrders(db)
		switch {
		case err != nil:
			failures++
			t.Logf("state %d %v: %v (an error is allowed, a wrong answer is not)", i, params, err)
		case got != truthOf(s):
			t.Errorf("state %d %v: got %+v, want %+v", i, params, got, truthOf(s))
		}
		db.Close()
	}
	t.Logf("%d requests (%d lists), %d faults injected, %d queries failed", proxy.gets.Load()+proxy.lists.Load(), proxy.lists.Load(), proxy.injected.Load(), failures)
	if proxy.injected.Load() < 5 {
		t.Errorf("only %d faults injected; the test tests nothing", proxy.injected.Load())
	}
	if failures > 1 {
		t.Errorf("%d of %d queries failed: transient faults should be retried", failures, len(states)+1)
	}
}

// Money moves between accounts while readers check the total through a
// faulty connection to storage: a reader may get an error, never a wrong
// sum.
func TestInvariantWithFaultyStorage(t *testing.T) {
	const accounts, initial, transfers = 100, 1000, 60
	srv, bucket := s3Env(t)
	w := ltxtest.NewWriter(t, srv.Store(t, bucket, "bank"), filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table accounts(id integer primary key, balance integer, pad text)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
		insert into accounts select i, ?, hex(randomblob(300)) from n`, accounts, initial)

	proxy := newFaultProxy(t, srv.Endpoint())
	proxy.set(faults{ErrorRate: 0.15, ShortRate: 0.1, MaxLatency: 10 * time.Millisecond})
	db := openReplica(t, s3URL(proxy.URL(), bucket, "bank"), "cache_size", "64KiB")
	db.SetMaxOpenConns(4)
	if got := mustScalar[int](t, db, `select sum(balance) from accounts`); got != accounts*initial {
		t.Fatalf("sum = %d before any transfer", got)
	}

	ctx, cancel := context.WithCancel(t.Context())
	var wg sync.WaitGroup
	defer wg.Wait() // even when the writer fails the test: no reader outlives it
	defer cancel()
	var checks, errs atomic.Int64
	for r := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				var sum int64
				err := db.QueryRowContext(ctx, `select sum(balance) from accounts`).Scan(&sum)
				switch {
				case ctx.Err() != nil:
					return
				case err != nil:
					errs.Add(1)
				case sum != accounts*initial:
					t.Errorf("reader %d: sum = %d, want %d", r, sum, accounts*initial)
					return
				default:
					checks.Add(1)
				}
			}
		}()
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for range transfers {
		src, dst, amount := 1+rng.IntN(accounts), 1+rng.IntN(accounts), 1+rng.IntN(50)
		if _, err := w.DB().Exec(`begin; update accounts set balance = balance - ? where id = ?; update accounts set balance = balance + ? where id = ?; commit`,
			amount, src, amount, dst); err != nil {
			t.Fatal(err)
		}
		w.Commit()
	}
	final := w.TXID().String()
	eventually(t, 10*time.Second, func() (bool, string) {
		got := mustScalar[string](t, db, `pragma strata_txid`)
		return got == final, "reader at TXID " + got + ", writer at " + final
	})
	cancel()
	wg.Wait()
	t.Logf("%d checks, %d errors, %d faults injected", checks.Load(), errs.Load(), proxy.injected.Load())
	if checks.Load() < 100 {
		t.Errorf("only %d checks succeeded", checks.Load())
	}
}

// During a total outage queries fail with an error (after retrying a
// transient one, at once for a permanent one), strata_lag grows, and
// after the outage the same connection answers right again.
func TestOutage(t *testing.T) {
	states := fixture.Truth(t)
	uncached := uncachedStates(t, 2)
	srv, bucket, prefix := fixtureOnS3(t)
	proxy := newFaultProxy(t, srv.Endpoint())
	db := openReplica(t, s3URL(proxy.URL(), bucket, prefix))
	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	if got, want := mustOrders(t, c), truthOf(states[len(states)-1]); got != want {
		t.Fatalf("before the outage: got %+v, want %+v", got, want)
	}

	for _, tc := range []struct {
		name   string
		status int
		state  int // a past state whose pages were never read, so not cached
		within time.Duration
	}{
		{"403 is permanent", 403, uncached[0], 2 * time.Second},
		{"503 is retried, then fails", 503, uncached[1], 60 * time.Second},
	} {
		t.Run(tc.name, func(t *testing.T) {
			at := fixture.TimeFor(states, tc.state).UTC().Format(time.RFC3339Nano)
			mustScalar[string](t, c, `pragma strata_time = '`+at+`'`)
			proxy.set(faults{ErrorRate: 1, Status: tc.status})
			start := time.Now()
			got, err := queryOrders(c)
			took := time.Since(start)
			if err == nil {
				t.Errorf("during the outage the query gave %+v and no error", got)
			}
			t.Logf("query failed after %s: %v", took.Round(time.Millisecond), err)
			if took > tc.within {
				t.Errorf("failing took %s, want at most %s", took, tc.within)
			}
			lag, _ := strconv.ParseFloat(mustScalar[string](t, c, `pragma strata_lag`), 64)
			proxy.set(faults{})
			if got, want := mustOrders(t, c), truthOf(states[tc.state]); got != want {
				t.Errorf("after the outage: got %+v, want %+v", got, want)
			}
			t.Logf("strata_lag at the end of the outage: %.3f s", lag)
			if took > time.Second && lag < 0.5 {
				t.Errorf("strata_lag = %g after a %s outage", lag, took)
			}
		})
	}
}

// uncachedStates returns n past states of the shop fixture whose pages a
// connection that read the latest state, then the states before it in the
// list, has not cached: each one's restore plan holds a file that no plan
// before it holds and that is too large to come whole with its page index
// (replica's minTail, 64 KiB), so its pages are fetched only when a query
// needs them. Which states qualify depends on how litestream compacted the
// fixture, so they are found, not hard-coded.
func uncachedStates(t testing.TB, n int) []int {
	t.Helper()
	states := fixture.Truth(t)
	listed, err := fixture.ListFiles(fixture.ReplicaDir(t))
	if err != nil {
		t.Fatal(err)
	}
	var files []storage.FileInfo
	for _, f := range listed {
		st, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		files = append(files, storage.FileInfo{Level: f.Level, MinTXID: f.MinTXID, MaxTXID: f.MaxTXID, Size: st.Size()})
	}
	seen := map[storage.FileKey]bool{}
	plan := func(txid ltx.TXID) []storage.FileInfo {
		p, err := replica.BuildPlan(files, txid)
		if err != nil {
			t.Fatal(err)
		}
		return p.Files
	}
	for _, f := range plan(0) {
		seen[f.Key()] = true
	}
	var out []int
	for i := len(states) - 2; i >= 0 && len(out) < n; i-- {
		fresh := false
		for _, f := range plan(states[i].TXID) {
			fresh = fresh || (!seen[f.Key()] && f.Size > 64<<10)
		}
		if !fresh {
			continue
		}
		out = append(out, i)
		for _, f := range plan(states[i].TXID) {
			seen[f.Key()] = true
		}
	}
	if len(out) < n {
		t.Fatalf("the fixture has %d past states with pages no earlier read cached, want %d", len(out), n)
	}
	return out
}
