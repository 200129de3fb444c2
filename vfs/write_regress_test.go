package vfs_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
)

// Regression: after a conflict in sync=commit, the next transaction
// started again from the state the lost one began on, and conflicted
// again until the poller's next tick (with the default 1s interval, a
// retry loop spun against storage for up to a second). The writer now
// catches up at the conflict: the first retry succeeds.
func TestWriteRetryAfterConflictStartsFromTheNewState(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	exec(t, c, `insert into t(v) values (1)`) // TXID 2

	exec(t, c, `begin immediate`)
	exec(t, c, `insert into t(v) values (10)`)
	steal(t, store, 2, 3) // another writer stores TXID 3
	_, err := c.ExecContext(context.Background(), `commit`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrBusySnapshot {
		t.Fatalf("commit over another writer's TXID: %v, want SQLITE_BUSY_SNAPSHOT", err)
	}
	c.ExecContext(context.Background(), `rollback`)
	// No poll in between: the retry must not conflict again.
	exec(t, c, `insert into t(v) values (20)`)
	if files := levelFiles(t, store, 0); files[len(files)-1].MaxTXID != 4 {
		t.Errorf("the retry stored %v, want TXID 4 last", files[len(files)-1])
	}
	if got := scalar[int64](t, c, `select sum(v) from t`); got != 21 {
		t.Errorf("sum %d, want 21", got)
	}
}

// Regression: in group commit, the first commit to an empty replica
// published a view without a page size, so the database read as empty
// until the first flush stored it: "no such table" right after CREATE.
func TestGroupCommitNewDatabaseReadableBeforeItIsStored(t *testing.T) {
	url, store := emptyReplica(t)
	c := conn(t, openWriter(t, url, "sync", "1h"))
	exec(t, c, `create table t(v integer)`)
	exec(t, c, `insert into t values (1)`)
	if got := scalar[int64](t, c, `select sum(v) from t`); got != 1 {
		t.Errorf("sum %d, want 1", got)
	}
	if files := levelFiles(t, store, 0); len(files) != 0 {
		t.Errorf("level 0 holds %v before any sync", files)
	}
}

// Regression: a transaction that began before a flush stored the pending
// commits, and committed after it, started a new buffer log on the TXID
// the transaction began on instead of the one just stored; the next
// flush took that for another writer's commit and turned the replica
// read-only, with no other writer at all.
func TestGroupCommitTransactionAcrossAFlush(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url, "sync", "1h", "_busy_timeout", "0")
	a, b := conn(t, db), conn(t, db)
	exec(t, a, `create table t(v integer)`)
	scalar[string](t, a, `pragma strata_sync`) // TXID 1
	exec(t, a, `insert into t values (1)`)     // pending
	exec(t, a, `begin`)
	if got := scalar[int64](t, a, `select count(*) from t`); got != 1 { // pins the pending state
		t.Fatal(got)
	}
	if got := scalar[string](t, b, `pragma strata_sync`); got != "0000000000000002" { // stores it
		t.Fatalf("strata_sync = %s, want TXID 2", got)
	}
	exec(t, a, `insert into t values (2)`)
	exec(t, a, `commit`)
	if got, err := tryScalar[string](b, `pragma strata_sync`); err != nil || got != "0000000000000003" {
		t.Fatalf("strata_sync after a transaction across a flush = %q, %v; want TXID 3", got, err)
	}
	if n, sum := restoreSum(t, store); n != 2 || sum != 3 {
		t.Errorf("restored %d rows, sum %d; want 2, 3", n, sum)
	}
}

// Regression: in group commit, a transaction open while the poller
// published another writer's commit was appended to the buffer over the
// other writer's state; the next flush found the conflict and turned the
// replica read-only. The COMMIT now fails with SQLITE_BUSY_SNAPSHOT, as
// in sync=commit, nothing of it is kept, and the retry succeeds.
func TestGroupCommitStaleTransactionIsBusy(t *testing.T) {
	url, store := emptyReplica(t)
	c := conn(t, openWriter(t, url, "sync", "1h", "poll_interval", neverPoll))
	exec(t, c, `create table t(id integer primary key, v integer)`)
	exec(t, c, `insert into t(v) values (1)`)
	scalar[string](t, c, `pragma strata_sync`) // TXID 1
	exec(t, c, `begin immediate`)
	exec(t, c, `insert into t(v) values (10)`)
	steal(t, store, 1, 2) // another writer stores TXID 2
	if err := strata.PollNow(url); err != nil {
		t.Fatal(err)
	}
	_, err := c.ExecContext(context.Background(), `commit`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.ExtendedCode != sqlite3.ErrBusySnapshot {
		t.Fatalf("commit of a transaction the other writer overtook: %v, want SQLITE_BUSY_SNAPSHOT", err)
	}
	c.ExecContext(context.Background(), `rollback`)
	exec(t, c, `insert into t(v) values (20)`)
	if got, err := tryScalar[string](c, `pragma strata_sync`); err != nil || got != "0000000000000003" {
		t.Fatalf("strata_sync of the retry = %q, %v; want TXID 3", got, err)
	}
	if n, sum := restoreSum(t, store); n != 2 || sum != 21 {
		t.Errorf("restored %d rows, sum %d; want 2 (the other writer's copy of TXID 1 and the retry), 21", n, sum)
	}
}

// Regression: opening a replica whose write buffer held acknowledged
// commits not yet stored (the last session could not store them)
// deadlocked: recovery read the latest view under the lock EnableWrites
// held. The next open now stores them.
func TestGroupCommitRecoveryOnNextOpen(t *testing.T) {
	url, store := emptyReplica(t)
	buffer := t.TempDir()
	db := open(t, url, "write", "1", "buffer", buffer, "sync", "1h")
	exec(t, db, `create table t(id integer primary key, v integer)`)
	scalar[string](t, db, `pragma strata_sync`) // TXID 1
	for v := 1; v <= 3; v++ {
		exec(t, db, `insert into t(v) values (?)`, v) // acknowledged, pending
	}
	// The session ends while storage refuses the upload: level 0 is not a
	// directory. The commits stay in the buffer.
	l0 := filepath.Join(store.Dir(), "ltx", "0")
	if err := os.Rename(l0, l0+".away"); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(l0, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	db.Close()
	if err := os.Remove(l0); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(l0+".away", l0); err != nil {
		t.Fatal(err)
	}
	if files := levelFiles(t, store, 0); len(files) != 1 {
		t.Fatalf("level 0 holds %v: the failed session stored something", files)
	}

	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	next := open(t, url, "write", "1", "buffer", buffer, "sync", "1h")
	go func() {
		var r result
		r.err = next.QueryRow(`select count(*) from t`).Scan(&r.n)
		done <- r
	}()
	select {
	case r := <-done:
		if r.err != nil || r.n != 3 {
			t.Fatalf("the next session reads %d rows, %v; want the 3 acknowledged", r.n, r.err)
		}
	case <-time.After(30 * time.Second):
		t.Fatal("opening a replica whose buffer holds pending commits did not finish within 30s")
	}
	if got := scalar[string](t, next, `pragma strata_sync`); got != "0000000000000002" {
		t.Errorf("strata_sync = %s, want the recovered commits stored as TXID 2", got)
	}
	if n, sum := restoreSum(t, store); n != 3 || sum != 6 {
		t.Errorf("restored %d rows, sum %d; want 3, 6", n, sum)
	}
}

// Regression: PRAGMA page_size and VACUUM on a writable replica changed
// SQLite's page size while the replica's LTX files kept the old one
// (SQLite's smaller pages were merged into the replica's larger ones):
// readable, but past 1 GiB the replica's lock page would have cut into
// SQLite pages. The VACUUM now fails, naming the sizes, and nothing moves.
func TestWritePageSizeCannotChange(t *testing.T) {
	url, store := emptyReplica(t)
	c := conn(t, openWriter(t, url))
	exec(t, c, `create table t(id integer primary key, v integer)`)
	exec(t, c, `insert into t(v) values (1), (2)`)
	before := levelFiles(t, store, 0)
	exec(t, c, `pragma page_size = 1024`)
	if _, err := c.ExecContext(context.Background(), `vacuum`); err == nil {
		t.Fatal("VACUUM to 1024-byte pages succeeded on a replica of 4096-byte pages")
	}
	if msg := scalar[string](t, c, `pragma strata_last_error`); !strings.Contains(msg, "4096-byte pages cannot change to 1024-byte pages") {
		t.Errorf("strata_last_error = %q", msg)
	}
	if after := levelFiles(t, store, 0); len(after) != len(before) {
		t.Errorf("level 0 went from %d to %d files", len(before), len(after))
	}
	if got := scalar[int64](t, c, `pragma page_size`); got != 4096 {
		t.Errorf("page_size %d after the refused VACUUM", got)
	}
	exec(t, c, `pragma page_size = 4096`)
	exec(t, c, `vacuum`) // at the replica's page size: fine
	if n, sum := restoreSum(t, store); n != 2 || sum != 3 {
		t.Errorf("restored %d rows, sum %d; want 2, 3", n, sum)
	}
}
