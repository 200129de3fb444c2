package vfs_test

import (
	"context"
	"errors"
	"testing"

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
