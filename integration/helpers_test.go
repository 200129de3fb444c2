// Package integration tests strata end to end against real services: the
// strata VFS reading replicas from an S3 server (versitygw), directly and
// through a proxy that injects faults and counts requests.
package integration

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/vfs"
)

// strataVFS registers the strata VFS (once per process) with a short poll
// interval. STRATA_TEST_LOG=debug shows its logs.
func strataVFS(t testing.TB) *vfs.VFS {
	t.Helper()
	cfg := vfs.Config{PollInterval: 100 * time.Millisecond}
	if lv := os.Getenv("STRATA_TEST_LOG"); lv != "" {
		var level slog.Level
		_ = level.UnmarshalText([]byte(lv))
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	v, err := vfs.Register(cfg)
	if err != nil {
		t.Fatal(err)
	}
	return v
}

// s3Env starts an S3 server for the test, lets the VFS log in to it, and
// creates a bucket.
func s3Env(t *testing.T) (*testenv.S3Server, string) {
	t.Helper()
	srv := testenv.VersityGW(t)
	srv.SetEnv(t)
	return srv, srv.CreateBucket(t, t.Name())
}

// s3URL is the replica URL of prefix in bucket behind endpoint (the server
// itself or a proxy in front of it).
func s3URL(endpoint, bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s&force-path-style=true", bucket, prefix, endpoint, testenv.Region)
}

// fixtureOnS3 copies the shop fixture to prefix in a new bucket.
func fixtureOnS3(t *testing.T) (srv *testenv.S3Server, bucket, prefix string) {
	t.Helper()
	srv, bucket = s3Env(t)
	testenv.CopyFixtureToS3(t, srv, bucket, "shop", fixture.Dir(t))
	return srv, bucket, "shop"
}

// replicaDSN is the URI of a replica opened through the strata VFS,
// polling every 100 ms unless params say otherwise; params are extra URI
// parameters as name, value pairs.
func replicaDSN(replicaURL string, params ...string) string {
	for i := 0; i+1 < len(params); i += 2 {
		if params[i] == "poll_interval" {
			return vfs.URI(replicaURL, params...)
		}
	}
	return vfs.URI(replicaURL, append(params, "poll_interval", "100ms")...)
}

// openReplica opens a database/sql handle on a replica for the test.
func openReplica(t testing.TB, replicaURL string, params ...string) *sql.DB {
	t.Helper()
	strataVFS(t)
	db, err := sql.Open("sqlite3", replicaDSN(replicaURL, params...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// orders is what the fixture's truth.json records of a state.
type orders struct{ count, sum int64 }

func queryOrders(q querier) (orders, error) {
	var o orders
	err := q.QueryRowContext(context.Background(), `select count(*), sum(cents) from orders`).Scan(&o.count, &o.sum)
	return o, err
}

func mustOrders(t testing.TB, q querier) orders {
	t.Helper()
	o, err := queryOrders(q)
	if err != nil {
		t.Fatalf("select from orders: %v (last open error: %v)", err, strataVFS(t).LastOpenError())
	}
	return o
}

func truthOf(s fixture.State) orders { return orders{s.Count, s.Sum} }

func mustScalar[T any](t testing.TB, q querier, query string) T {
	t.Helper()
	var v T
	if err := q.QueryRowContext(context.Background(), query).Scan(&v); err != nil {
		t.Fatalf("%s: %v (last open error: %v)", query, err, strataVFS(t).LastOpenError())
	}
	return v
}

// eventually waits until cond holds (see testenv.Eventually).
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	return testenv.Eventually(t, timeout, cond)
}
