package vfs_test

// Helpers shared by the tests of several behaviours.

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/storage"
)

// ltxPath is where the file backend of url keeps f.
func ltxPath(url string, f storage.FileInfo) string {
	return filepath.Join(strings.TrimPrefix(url, "file://"), "ltx", strconv.Itoa(f.Level), f.Name())
}

// lagOf is strata_lag in seconds.
func lagOf(t testing.TB, q querier) float64 {
	t.Helper()
	s := scalar[string](t, q, `pragma strata_lag`)
	lag, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("strata_lag = %q: %v", s, err)
	}
	return lag
}

// trySummary is summary returning the error instead of failing.
func trySummary(q querier) (string, error) {
	var n, size int64
	var rows string
	err := q.QueryRowContext(context.Background(), contents).Scan(&n, &size, &rows)
	return fmt.Sprintf("%d rows, %d bytes: %s", n, size, rows), err
}

// keepAndT is a replica whose table t spans ~30 pages, all written by
// TXID 3, beside a one-page table keep that a transaction reads to pin its
// state without reading t.
func keepAndT(t *testing.T) (*ltxtest.Writer, string) {
	t.Helper()
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)              // 1
	w.Exec(`create table keep(v text); insert into keep values ('kept')`) // 2
	fill(t, w, 300)                                                       // 3
	return w, url
}

// pin begins a read transaction on c and reads table keep, so that it
// holds the current state without having read t.
func pin(t *testing.T, c *sql.Conn) *sql.Tx {
	t.Helper()
	tx, err := c.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if got := scalar[string](t, tx, `select v from keep`); got != "kept" {
		t.Fatalf("table keep: %q", got)
	}
	return tx
}
