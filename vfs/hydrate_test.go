package vfs_test

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/engine"
	"github.com/strata-db/strata/internal/ltxtest"
)

// hydration is PRAGMA strata_hydration, decoded.
func hydration(t testing.TB, q querier) engine.Hydration {
	t.Helper()
	var h engine.Hydration
	if err := json.Unmarshal([]byte(scalar[string](t, q, `pragma strata_hydration`)), &h); err != nil {
		t.Fatalf("pragma strata_hydration: %v", err)
	}
	return h
}

func waitComplete(t testing.TB, q querier, txid string) {
	t.Helper()
	eventually(t, 20*time.Second, func() (bool, string) {
		h := hydration(t, q)
		return h.State == engine.HydrationComplete && h.TXID.String() == txid, fmt.Sprintf("hydration %+v, want complete at TXID %s", h, txid)
	})
}

// hydrate=PATH restores the replica into PATH in the background; PRAGMA
// strata_hydration reports the progress as one line of JSON, and
// strata_hydration_progress the percent. Every connection to the replica
// shares the one file.
func TestHydrationPragmas(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 500)
	path := filepath.Join(t.TempDir(), "shop.db")

	plain := open(t, url)
	if h := hydration(t, plain); h.State != engine.HydrationOff {
		t.Errorf("before hydration: %+v, want off", h)
	}
	db := open(t, url, "hydrate", path)
	waitComplete(t, db, w.TXID().String())
	h := hydration(t, db)
	if h.Path != path || h.Percent != 100 || h.Bytes == 0 || h.Bytes != h.Total {
		t.Errorf("hydration %+v: want path %s, 100%%, every byte", h, path)
	}
	if got := scalar[string](t, db, `pragma strata_hydration_progress`); got != "100.0" {
		t.Errorf("strata_hydration_progress = %s, want 100.0", got)
	}
	if n := scalar[int](t, db, `select count(*) from t`); n != 500 {
		t.Errorf("count = %d, want 500", n)
	}
	if h := hydration(t, plain); h.State != engine.HydrationComplete || h.Reads == 0 {
		t.Errorf("a connection without hydrate= on the same replica: %+v, want the shared file, serving reads", h)
	}
	if _, err := tryScalar[string](db, `pragma strata_hydration = 'x'`); err == nil {
		t.Error("setting strata_hydration succeeded")
	}
}

// A reader never sees a half-applied transaction while the hydrated file
// advances under it: money moves between accounts, one LTX file at a
// time; pool readers check the total, dedicated connections check that
// each read transaction sees one state from start to end.
func TestHydrationInvariantUnderConcurrentCommits(t *testing.T) {
	const (
		accounts  = 300
		initial   = 1000
		total     = accounts * initial
		transfers = 100
		minChecks = 1000
	)
	w, url := newReplica(t)
	w.Exec(`create table accounts(id integer primary key, balance integer not null, pad text)`)
	w.Exec(`create table ledger(id integer primary key, src integer, dst integer, amount integer, pad blob)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
		insert into accounts select i, ?, hex(randomblob(150)) from n`, accounts, initial)
	base := w.TXID()

	// The test polls itself, every few transfers: the file advances
	// while readers hold older states.
	db := open(t, url, "hydrate", filepath.Join(t.TempDir(), "bank.db"), "poll_interval", neverPoll)
	db.SetMaxOpenConns(6)
	waitComplete(t, db, base.String())
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait()
	defer cancel()
	var (
		checks   atomic.Int64
		failed   atomic.Bool
		seenMu   sync.Mutex
		seen     = map[string]bool{}
		fail     = func(format string, args ...any) { failed.Store(true); t.Errorf(format, args...) }
		stopping = func() bool { return failed.Load() || ctx.Err() != nil }
	)
	for r := range 4 {
		wg.Go(func() {
			for !stopping() {
				var sum, n int64
				err := db.QueryRowContext(ctx, `select sum(balance), count(*) from accounts`).Scan(&sum, &n)
				if ctx.Err() != nil {
					return
				}
				if err != nil {
					fail("pool reader %d: %v", r, err)
					return
				}
				if sum != total || n != accounts {
					fail("pool reader %d: sum = %d over %d accounts, want %d over %d", r, sum, n, total, accounts)
				}
				checks.Add(1)
			}
		})
	}
	for r := range 2 {
		c := conn(t, db)
		wg.Go(func() {
			for !stopping() {
				if err := checkSnapshot(ctx, c, total, base, seen, &seenMu); err != nil {
					if ctx.Err() == nil {
						fail("dedicated reader %d: %v", r, err)
					}
					return
				}
				checks.Add(1)
			}
		})
	}
	rng := rand.New(rand.NewPCG(3, 4))
	for i := range transfers {
		src, dst, amount := 1+rng.IntN(accounts), 1+rng.IntN(accounts), 1+rng.IntN(100)
		tx, err := w.DB().Begin()
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []struct {
			sql  string
			args []any
		}{
			{`update accounts set balance = balance - ? where id = ?`, []any{amount, src}},
			{`update accounts set balance = balance + ? where id = ?`, []any{amount, dst}},
			{`insert into ledger(src, dst, amount, pad) values (?, ?, ?, randomblob(200))`, []any{src, dst, amount}},
		} {
			if _, err := tx.Exec(q.sql, q.args...); err != nil {
				t.Fatalf("transfer %d: %v", i, err)
			}
		}
		if err := tx.Commit(); err != nil {
			t.Fatal(err)
		}
		if _, err := w.TryCommit(); err != nil {
			t.Fatal(err)
		}
		if i%3 == 0 {
			pollNow(t, url)
		}
		if failed.Load() {
			break
		}
	}
	pollNow(t, url)
	final := w.TXID().String()
	eventually(t, 30*time.Second, func() (bool, string) {
		seenMu.Lock()
		defer seenMu.Unlock()
		return failed.Load() || (seen[final] && checks.Load() >= minChecks), fmt.Sprintf("%d checks, last TXID seen: %v", checks.Load(), seen[final])
	})
	cancel()
	wg.Wait()
	waitComplete(t, db, final)
	h := hydration(t, db)
	seenMu.Lock()
	t.Logf("%d transfers; %d invariant checks; dedicated readers saw %d distinct TXIDs; %d reads from the hydrated file",
		transfers, checks.Load(), len(seen), h.Reads)
	seenMu.Unlock()
	if h.Reads == 0 {
		t.Error("no read came from the hydrated file")
	}
}

// A writer's commits reach its hydrated file: the file follows every
// commit (from the replica's first one on), the writer's reads come from
// it, and plain SQLite reads the same rows there. Group commits reach it
// once stored.
func TestHydrationFollowsTheWriter(t *testing.T) {
	for _, sync := range []string{"commit", "50ms"} {
		t.Run("sync="+sync, func(t *testing.T) {
			url, store := emptyReplica(t)
			if sync != "commit" {
				// Group commit starts from a database made elsewhere.
				w := ltxtest.NewWriter(t, store, filepath.Join(t.TempDir(), "local.db"))
				w.Exec(`create table t(id integer primary key, v integer)`)
			}
			path := filepath.Join(t.TempDir(), "written.db")
			db := openWriter(t, url, "hydrate", path, "sync", sync)
			c := conn(t, db)
			if sync == "commit" {
				exec(t, c, `create table t(id integer primary key, v integer)`)
			}
			for i := 1; i <= 20; i++ {
				exec(t, c, `insert into t(v) values (?)`, i)
			}
			if sync != "commit" {
				scalar[string](t, c, `pragma strata_sync`)
			}
			txid := scalar[string](t, c, `pragma strata_txid`)
			waitComplete(t, c, txid)
			before := hydration(t, c).Reads
			if got := scalar[int64](t, c, `select sum(v) from t`); got != 210 {
				t.Errorf("sum = %d, want 210", got)
			}
			exec(t, c, `insert into t(v) values (1000)`) // reads pages to change them
			if hydration(t, c).Reads == before {
				t.Error("the writer read nothing from its hydrated file")
			}
			if sync != "commit" {
				scalar[string](t, c, `pragma strata_sync`)
			}
			waitComplete(t, c, scalar[string](t, c, `pragma strata_txid`))
			plain, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
			if err != nil {
				t.Fatal(err)
			}
			defer plain.Close()
			if got := scalar[int64](t, plain, `select sum(v) from t`); got != 1210 {
				t.Errorf("plain SQLite on the hydrated file: sum %d, want 1210", got)
			}
			checkIntegrity(t, plain)
		})
	}
}

// Time travel on a hydrated replica reads the past state (unchanged pages
// from the file, the others remotely) while the file stays at the latest;
// the latest state reads from the file.
func TestHydrationTimeTravel(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 300)
	past := w.TXID()
	w.Exec(`delete from t where id > 100`)
	db := open(t, url, "hydrate", filepath.Join(t.TempDir(), "tt.db"))
	waitComplete(t, db, w.TXID().String())
	old := open(t, url, "txid", past.String())
	if n := scalar[int](t, old, `select count(*) from t`); n != 300 {
		t.Errorf("at TXID %s: %d rows, want 300", past, n)
	}
	if n := scalar[int](t, db, `select count(*) from t`); n != 100 {
		t.Errorf("latest: %d rows, want 100", n)
	}
	if h := hydration(t, db); h.TXID != w.TXID() || h.Reads == 0 {
		t.Errorf("hydration %+v: want the file at TXID %s, serving reads", h, w.TXID())
	}
}
