package vfs_test

import (
	"context"
	"database/sql"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/vfs"
)

// strata is the process's VFS. STRATA_TEST_LOG=debug shows its logs.
var strata *vfs.VFS

func TestMain(m *testing.M) {
	cfg := vfs.Config{PollInterval: 100 * time.Millisecond}
	if lv := os.Getenv("STRATA_TEST_LOG"); lv != "" {
		var level slog.Level
		_ = level.UnmarshalText([]byte(lv))
		cfg.Logger = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: level}))
	}
	var err error
	if strata, err = vfs.Register(cfg); err != nil {
		fmt.Fprintln(os.Stderr, "register strata VFS:", err)
		os.Exit(1)
	}
	os.Exit(m.Run())
}

// pollInterval is what live tests poll at; neverPoll is for tests that
// decide themselves when polls happen (strata.PollNow).
const (
	pollInterval = "100ms"
	neverPoll    = "1h"
)

// dsn is the URI of a replica opened through the strata VFS, polling
// every pollInterval unless params say otherwise (SQLite reads the first of
// repeated parameters). params are extra URI parameters as name, value pairs.
func dsn(replicaURL string, params ...string) string {
	if !hasParam(params, "poll_interval") {
		params = append(params, "poll_interval", pollInterval)
	}
	return vfs.URI(replicaURL, params...)
}

func hasParam(params []string, name string) bool {
	for i := 0; i < len(params); i += 2 {
		if params[i] == name {
			return true
		}
	}
	return false
}

// open opens a database/sql handle on a replica and closes it at the end
// of the test. Opening is lazy: the first query opens the replica.
func open(t testing.TB, replicaURL string, params ...string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", dsn(replicaURL, params...))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// conn takes one connection of db for the test, so that pragmas and
// transactions apply to it alone.
func conn(t testing.TB, db *sql.DB) *sql.Conn {
	t.Helper()
	c, err := db.Conn(context.Background())
	if err != nil {
		t.Fatalf("connect: %v (open error: %v)", err, strata.LastOpenError())
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// querier is what *sql.DB, *sql.Conn and *sql.Tx have in common.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// scalar runs a query returning one value.
func scalar[T any](t testing.TB, q querier, query string, args ...any) T {
	t.Helper()
	var v T
	if err := q.QueryRowContext(context.Background(), query, args...).Scan(&v); err != nil {
		t.Fatalf("%s: %v (last open error: %v)", query, err, strata.LastOpenError())
	}
	return v
}

// tryScalar is scalar returning the error instead of failing.
func tryScalar[T any](q querier, query string, args ...any) (T, error) {
	var v T
	err := q.QueryRowContext(context.Background(), query, args...).Scan(&v)
	return v, err
}

func checkIntegrity(t testing.TB, q querier) {
	t.Helper()
	if got := scalar[string](t, q, `pragma integrity_check`); got != "ok" {
		t.Fatalf("integrity_check: %s", got)
	}
}

// eventually waits until cond holds (see testenv.Eventually).
func eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	return testenv.Eventually(t, timeout, cond)
}

// newReplica makes an empty replica directory and a writer for it whose
// local database lives beside it. It returns the writer and the replica URL.
func newReplica(t testing.TB, opts ...ltxtest.Option) (*ltxtest.Writer, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	return ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"), opts...), "file://" + store.Dir()
}
