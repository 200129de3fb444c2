package integration

import (
	"context"
	"errors"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
)

// A statement whose context ends while its reads wait on slow storage
// returns promptly: SQLite's interrupt (which database/sql sends on a
// cancelled context) stops the fetches in flight and their retries, rather
// than waiting for storage that takes seconds per request.
func TestInterruptStopsReadsWaitingOnStorage(t *testing.T) {
	srv, bucket := s3Env(t)
	w := ltxtest.NewWriter(t, srv.Store(t, bucket, "slow"), filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table t(id integer primary key, v blob)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 2000)
		insert into t(v) select randomblob(1500) from n`)
	proxy := newFaultProxy(t, srv.Endpoint())
	db := openReplica(t, s3URL(proxy.URL(), bucket, "slow"), "cache_size", "64KiB", "poll_interval", "1h")
	if n := mustScalar[int64](t, db, `select count(*) from sqlite_master`); n != 1 {
		t.Fatalf("%d tables", n)
	}

	proxy.set(faults{Latency: 5 * time.Second})
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	start := time.Now()
	var sum int64
	err := db.QueryRowContext(ctx, `select sum(length(v)) from t`).Scan(&sum)
	took := time.Since(start)
	if err == nil {
		t.Fatalf("a scan through 5 s requests finished within its 200 ms deadline (sum %d)", sum)
	}
	if !errors.Is(err, context.DeadlineExceeded) && took > 2*time.Second {
		t.Errorf("err = %v", err)
	}
	if took > 2*time.Second {
		t.Errorf("the interrupted statement took %s to return; want well under the 5 s one request takes", took)
	}
	t.Logf("interrupted after %s: %v", took, err)

	// The connection pool still works once storage is fast again.
	proxy.set(faults{})
	if got := mustScalar[int64](t, db, `select count(*) from t`); got != 2000 {
		t.Errorf("after the interrupt: %d rows, want 2000", got)
	}
}
