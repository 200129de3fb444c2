package integration

import (
	"context"
	"database/sql"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/testenv"
)

// Uploads failing in sync=commit: a COMMIT whose upload cannot be stored
// fails cleanly (nothing stored, nothing acknowledged) and a retry
// succeeds; transient failures (5xx, dropped connections) are retried
// within the COMMIT; an upload the server stored but whose answer was
// lost is recognized as this writer's own on retry, never reported as a
// conflict (the application would commit it twice) nor lost. At the end
// the replica holds exactly the acknowledged commits, one file per TXID.
func TestWriteFaultsOnUpload(t *testing.T) {
	srv := testenv.VersityGW(t)
	srv.SetEnv(t)
	bucket := srv.CreateBucket(t, "put-faults")
	proxy := newFaultProxy(t, srv.Endpoint())
	db := openReplica(t, s3URL(proxy.URL(), bucket, "db"), "write", "1", "buffer", t.TempDir(), "_busy_timeout", "0")
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	store := srv.Store(t, bucket, "db")
	if _, err := conn.ExecContext(ctx, `create table t(id integer primary key)`); err != nil {
		t.Fatal(err)
	}
	var acked []int64
	next := int64(0)
	// insert commits one row and reports how its COMMIT ended.
	insert := func() error {
		next++
		_, err := conn.ExecContext(ctx, `insert into t values (?)`, next)
		if err == nil {
			acked = append(acked, next)
		}
		return err
	}

	t.Run("an upload that keeps failing fails the COMMIT, and a retry succeeds", func(t *testing.T) {
		before := level0(t, store)
		proxy.set(faults{PutErrorRate: 1, PutStatus: 503})
		err := insert()
		var se sqlite3.Error
		if !errors.As(err, &se) || se.Code != sqlite3.ErrIoErr {
			t.Fatalf("COMMIT with every upload failing: %v, want SQLITE_IOERR", err)
		}
		msg := lastErrorOf(t, conn)
		for _, want := range []string{"store TXID 0000000000000002", "ServiceUnavailable"} {
			if !strings.Contains(msg, want) {
				t.Errorf("strata_last_error = %q, want it to mention %q", msg, want)
			}
		}
		if got := level0(t, store); len(got) != len(before) {
			t.Errorf("the failed COMMIT left level 0 with %d files, want %d", len(got), len(before))
		}
		if n := mustScalar[int](t, conn, `select count(*) from t`); n != 0 {
			t.Errorf("after the failed COMMIT the writer reads %d rows, want 0", n)
		}
		proxy.set(faults{})
		if err := insert(); err != nil {
			t.Fatalf("retry once storage answers again: %v (%s)", err, lastErrorOf(t, conn))
		}
	})

	t.Run("5xx and dropped connections are retried within the COMMIT", func(t *testing.T) {
		proxy.resetCounts()
		proxy.set(faults{PutErrorRate: 0.25, PutResetRate: 0.15})
		failed := 0
		for range 30 {
			if err := insert(); err != nil {
				failed++
				t.Logf("a COMMIT failed (allowed when every retry failed): %v", err)
			}
		}
		proxy.set(faults{})
		t.Logf("%d PUTs, %d faults injected, %d COMMITs failed", proxy.puts.Load(), proxy.injected.Load(), failed)
		if proxy.injected.Load() < 5 {
			t.Errorf("only %d faults injected: the test tests nothing", proxy.injected.Load())
		}
		if failed > 1 {
			t.Errorf("%d of 30 COMMITs failed: transient upload failures should be retried", failed)
		}
	})

	t.Run("an upload stored whose answer was lost is committed once", func(t *testing.T) {
		proxy.resetCounts()
		proxy.set(faults{PutLostRate: 0.5})
		for range 30 {
			if err := insert(); err != nil {
				t.Errorf("COMMIT %d: %v (%s)", next, err, lastErrorOf(t, conn))
				if _, err := conn.ExecContext(ctx, `rollback`); err != nil && !strings.Contains(err.Error(), "no transaction") {
					t.Fatal(err)
				}
			}
		}
		proxy.set(faults{})
		t.Logf("%d PUTs, %d stored with their answer lost", proxy.puts.Load(), proxy.putsLost.Load())
		if proxy.putsLost.Load() < 5 {
			t.Errorf("only %d answers lost: the test tests nothing", proxy.putsLost.Load())
		}
	})

	// The replica holds exactly what was acknowledged.
	stored := localIDs(t, restoreReplica(t, store), "t")
	slices.Sort(acked)
	if !slices.Equal(stored, acked) {
		t.Errorf("the replica holds %d rows %v,\nthe writer acknowledged %d: %v", len(stored), stored, len(acked), acked)
	}
	last := checkContiguous(t, level0(t, store))
	if int(last) != len(acked)+1 {
		t.Errorf("level 0 ends at TXID %s for the table and %d acknowledged commits", last, len(acked))
	}
}

// lastErrorOf is the connection's PRAGMA strata_last_error.
func lastErrorOf(t testing.TB, conn *sql.Conn) string {
	t.Helper()
	var s sql.NullString
	if err := conn.QueryRowContext(context.Background(), `pragma strata_last_error`).Scan(&s); err != nil {
		t.Fatal(err)
	}
	return s.String
}
