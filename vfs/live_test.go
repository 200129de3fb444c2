package vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/superfly/ltx"
)

// An open connection sees each new LTX file within about one poll
// interval, without reopening.
func TestLiveFollowing(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	db := open(t, url)
	if n := scalar[int](t, db, `select count(*) from t`); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
	var worst time.Duration
	for i := 1; i <= 5; i++ {
		w.Exec(`insert into t(v) select hex(randomblob(300)) from (select 1 union all select 2 union all select 3)`)
		took := eventually(t, time.Second, func() (bool, string) {
			n := scalar[int](t, db, `select count(*) from t`)
			return n == 3*i, fmt.Sprintf("after commit %d: count = %d, want %d", i, n, 3*i)
		})
		worst = max(worst, took)
	}
	t.Logf("new commits visible after at most %s (poll interval %s)", worst, pollInterval)
	if got, want := scalar[string](t, db, `pragma strata_txid`), w.TXID().String(); got != want {
		t.Errorf("strata_txid = %s, want %s", got, want)
	}
	checkIntegrity(t, db)
}

// A connection inside a read transaction keeps the state it started with,
// whatever is committed meanwhile, and sees the new state after COMMIT.
func TestReadTransactionKeepsItsSnapshot(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	w.Exec(`insert into t(v) values ('a'), ('b')`)
	db := open(t, url)
	c := conn(t, db)
	ctx := context.Background()

	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, tx, `select count(*) from t`); n != 2 {
		t.Fatalf("count = %d, want 2", n)
	}
	before := scalar[string](t, tx, `pragma strata_txid`)

	w.Exec(`insert into t(v) values ('c')`)
	w.Exec(`update t set v = 'changed'`)
	// Another connection of the pool sees the new state...
	eventually(t, 2*time.Second, func() (bool, string) {
		n := scalar[int](t, db, `select count(*) from t where v = 'changed'`)
		return n == 3, fmt.Sprintf("other connection: %d changed rows, want 3", n)
	})
	// ...while the transaction still reads its own.
	if n := scalar[int](t, tx, `select count(*) from t`); n != 2 {
		t.Errorf("inside the transaction: count = %d, want 2", n)
	}
	if n := scalar[int](t, tx, `select count(*) from t where v = 'changed'`); n != 0 {
		t.Errorf("inside the transaction: %d changed rows, want 0", n)
	}
	if got := scalar[string](t, tx, `pragma strata_txid`); got != before {
		t.Errorf("inside the transaction: strata_txid moved from %s to %s", before, got)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if n := scalar[int](t, c, `select count(*) from t where v = 'changed'`); n != 3 {
		t.Errorf("after COMMIT: %d changed rows, want 3", n)
	}
	if got, want := scalar[string](t, c, `pragma strata_txid`), w.TXID().String(); got != want {
		t.Errorf("after COMMIT: strata_txid = %s, want %s", got, want)
	}
}

// A reader never sees a half-applied transaction. A writer moves money
// between accounts, one SQL transaction and one LTX file at a time, and
// records each move in a ledger; readers check thousands of times that the
// money adds up and, inside read transactions, that the ledger has exactly
// one row per TXID they are looking at.
func TestInvariantUnderConcurrentCommits(t *testing.T) {
	const (
		accounts  = 300
		initial   = 1000
		total     = accounts * initial
		transfers = 200
		minChecks = 2000
	)
	w, url := newReplica(t)
	w.Exec(`create table accounts(id integer primary key, balance integer not null, pad text)`)
	w.Exec(`create table ledger(id integer primary key, src integer, dst integer, amount integer, pad blob)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
		insert into accounts select i, ?, hex(randomblob(150)) from n`, accounts, initial)
	base := w.TXID() // the ledger is empty at base and gains one row per TXID

	db := open(t, url)
	db.SetMaxOpenConns(8)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	defer wg.Wait() // even when the writer fails the test: no reader outlives it
	defer cancel()

	var (
		checks   atomic.Int64
		failed   atomic.Bool
		seenMu   sync.Mutex
		seen     = map[string]bool{}
		fail     = func(format string, args ...any) { failed.Store(true); t.Errorf(format, args...) }
		stopping = func() bool { return failed.Load() || ctx.Err() != nil }
	)

	// Pool readers: each query is its own read transaction.
	for r := range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var lastLedger int64
			for !stopping() {
				var sum, n, ledger int64
				err := db.QueryRowContext(ctx, `select sum(balance), count(*), (select count(*) from ledger) from accounts`).Scan(&sum, &n, &ledger)
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
				if ledger < lastLedger {
					fail("pool reader %d: ledger went back from %d to %d rows", r, lastLedger, ledger)
				}
				lastLedger = ledger
				checks.Add(1)
			}
		}()
	}

	// Dedicated connections: several statements per read transaction.
	for r := range 2 {
		c := conn(t, db)
		wg.Add(1)
		go func() {
			defer wg.Done()
			for !stopping() {
				if err := checkSnapshot(ctx, c, total, base, seen, &seenMu); err != nil {
					if ctx.Err() == nil {
						fail("dedicated reader %d: %v", r, err)
					}
					return
				}
				checks.Add(1)
			}
		}()
	}

	// The writer.
	rng := rand.New(rand.NewPCG(1, 2))
	start := time.Now()
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
		if failed.Load() {
			break
		}
	}
	wrote := time.Since(start)
	// Let the readers catch up with the last commit and reach their quota.
	final := (base + transfers).String()
	deadline := time.Now().Add(30 * time.Second)
	for !failed.Load() && time.Now().Before(deadline) {
		seenMu.Lock()
		caughtUp := seen[final]
		seenMu.Unlock()
		if caughtUp && checks.Load() >= minChecks {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	cancel()
	wg.Wait()

	seenMu.Lock()
	defer seenMu.Unlock()
	t.Logf("%d commits in %s; %d invariant checks; dedicated readers saw %d distinct TXIDs", transfers, wrote.Round(time.Millisecond), checks.Load(), len(seen))
	if n := checks.Load(); n < minChecks {
		t.Errorf("only %d checks ran, want at least %d", n, minChecks)
	}
	if !seen[final] {
		t.Errorf("dedicated readers never saw the last TXID %s", final)
	}
	if len(seen) < 10 {
		t.Errorf("dedicated readers saw only %d distinct TXIDs: they did not follow the writer", len(seen))
	}
}

// checkSnapshot runs one read transaction of several statements on c and
// checks that they all saw one consistent state.
func checkSnapshot(ctx context.Context, c *sql.Conn, total int64, base ltx.TXID, seen map[string]bool, mu *sync.Mutex) error {
	tx, err := c.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	var sum1, sum2, ledger1, ledger2 int64
	var txid string
	if err := tx.QueryRowContext(ctx, `select sum(balance) from accounts`).Scan(&sum1); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `pragma strata_txid`).Scan(&txid); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `select count(*) from ledger`).Scan(&ledger1); err != nil {
		return err
	}
	if err := tx.QueryRowContext(ctx, `select sum(balance), (select count(*) from ledger) from accounts`).Scan(&sum2, &ledger2); err != nil {
		return err
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	id, err := ltx.ParseTXID(txid)
	if err != nil {
		return fmt.Errorf("strata_txid %q: %w", txid, err)
	}
	switch {
	case sum1 != total || sum2 != total:
		return fmt.Errorf("TXID %s: sums %d and %d, want %d", txid, sum1, sum2, total)
	case ledger1 != ledger2:
		return fmt.Errorf("TXID %s: ledger changed within one read transaction: %d then %d rows", txid, ledger1, ledger2)
	case ledger1 != int64(id-base):
		return fmt.Errorf("TXID %s: %d ledger rows, want %d (one per TXID after %s)", txid, ledger1, id-base, base)
	}
	mu.Lock()
	seen[txid] = true
	mu.Unlock()
	return nil
}

// A read transaction's pages stay cached when a newer view is published:
// publishing used to evict every page version the new files replaced, so
// once compaction deleted the old files the transaction could not read
// pages it had every right to.
func TestPinnedViewKeepsItsCachedPages(t *testing.T) {
	w, url := keepAndT(t)
	db := open(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	// Another connection reads all of t, filling strata's page cache; c's
	// own SQLite cache holds none of t's pages.
	other := conn(t, db)
	want := summary(t, other)
	tx := pin(t, c)

	w.Exec(`update t set v = 'b' || v`) // 4: replaces every page of t
	pollNow(t, url)
	w.Compact(1, 1, 4)
	w.Delete(0, 1, 4)

	got, err := trySummary(tx)
	if err != nil {
		t.Fatalf("pinned transaction reading pages that were cached: %v (last error: %v)", err, strata.LastError())
	}
	if got != want {
		t.Errorf("pinned transaction sees another state:\n got %.100s\nwant %.100s", got, want)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, w, c)
}

// The same holds for a transaction that pinned a view older than the one
// a publish replaces: here the transaction pins TXID 3, TXID 4 (which
// leaves t alone) is published while it reads, then TXID 5 (which rewrites
// t). The publish of 5 evicts the versions of t's pages that view 4 held,
// which are the very ones the transaction at TXID 3 reads.
func TestPinnedOlderViewKeepsItsCachedPages(t *testing.T) {
	w, url := keepAndT(t)
	db := open(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	other := conn(t, db)
	want := summary(t, other)
	tx := pin(t, c)

	w.Exec(`update keep set v = 'kept'`) // 4: t untouched
	pollNow(t, url)
	w.Exec(`update t set v = 'b' || v`) // 5: replaces every page of t
	pollNow(t, url)
	w.Compact(1, 1, 5)
	w.Delete(0, 1, 5)

	got, err := trySummary(tx)
	if err != nil {
		t.Fatalf("pinned transaction reading pages that were cached: %v (last error: %v)", err, strata.LastError())
	}
	if got != want {
		t.Errorf("pinned transaction sees another state:\n got %.100s\nwant %.100s", got, want)
	}
}
