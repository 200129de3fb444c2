package replica_test

import (
	"context"
	"database/sql"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// fastRetry keeps tests of failures quick: a few tries, millisecond waits.
var fastRetry = storage.RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}

// countingStore counts the requests made to a backend.
type countingStore struct {
	storage.Backend
	lists, reads atomic.Int64
}

func (c *countingStore) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	c.lists.Add(1)
	return c.Backend.List(ctx, level, from)
}

func (c *countingStore) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	c.reads.Add(1)
	return c.Backend.ReadRange(ctx, f, off, length)
}

// openDir opens the replica in dir with the file backend.
func openDir(t testing.TB, dir string) *replica.Replica {
	t.Helper()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := replica.New(st)
	r.Retry = fastRetry
	return r
}

// fixtureReplica opens the shop fixture's replica, read-only.
func fixtureReplica(t testing.TB) *replica.Replica {
	t.Helper()
	return openDir(t, fixture.ReplicaDir(t))
}

// restore plans target and restores it into a new file, returning its path.
func restore(t testing.TB, r *replica.Replica, target replica.Target) (string, replica.Plan) {
	t.Helper()
	ctx := context.Background()
	plan, err := r.Plan(ctx, target)
	if err != nil {
		t.Fatalf("plan %s: %v", target, err)
	}
	path, err := restoreFile(t, r, plan)
	if err != nil {
		t.Fatalf("restore %s: %v", target, err)
	}
	return path, plan
}

func restoreFile(t testing.TB, r *replica.Replica, plan replica.Plan) (string, error) {
	t.Helper()
	path := filepath.Join(t.TempDir(), "restored.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	return path, r.Restore(context.Background(), plan, f, replica.RestoreOptions{})
}

// openDB opens a SQLite file and closes it when the test ends.
func openDB(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db
}

// measure opens a restored database, checks its integrity, and measures
// it as the fixture's writer did: the values of tr.Check, its size, and the
// checksum of its tables.
func measure(t testing.TB, path string, tr fixture.History) fixture.State {
	t.Helper()
	db := openDB(t, path)
	checkIntegrity(t, db, path)
	var s fixture.State
	var sum sql.NullInt64 // NULL on an empty table
	if err := db.QueryRow(tr.Check).Scan(&s.Count, &sum); err != nil {
		t.Fatalf("%s: %s: %v", path, tr.Check, err)
	}
	s.Sum = sum.Int64
	if err := db.QueryRow(`pragma page_count`).Scan(&s.Pages); err != nil {
		t.Fatal(err)
	}
	var err error
	if s.SHA256, err = fixture.Checksum(db, tr.Tables); err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

func checkIntegrity(t testing.TB, db *sql.DB, name string) {
	t.Helper()
	var ok string
	if err := db.QueryRow(`pragma integrity_check`).Scan(&ok); err != nil {
		t.Fatalf("%s: integrity_check: %v", name, err)
	}
	if ok != "ok" {
		t.Fatalf("%s: integrity_check: %s", name, ok)
	}
}

// fileAt finds the listed file of a level and TXID range.
func fileAt(t testing.TB, files []storage.FileInfo, level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	t.Helper()
	for _, f := range files {
		if f.Level == level && f.MinTXID == minTXID && f.MaxTXID == maxTXID {
			return f
		}
	}
	t.Fatalf("no file L%d/%s in the listing", level, ltx.FormatFilename(minTXID, maxTXID))
	return storage.FileInfo{}
}

// level0Plan is the plan of r's latest state from its level-0 files only
// (the fixtures keep one per TXID, from TXID 1): as many files as TXIDs.
func level0Plan(t testing.TB, r *replica.Replica) replica.Plan {
	t.Helper()
	var l0 []storage.FileInfo
	for _, f := range listAll(t, r) {
		if f.Level == 0 {
			l0 = append(l0, f)
		}
	}
	plan, err := replica.BuildPlan(l0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return plan
}

func listAll(t testing.TB, r *replica.Replica) []storage.FileInfo {
	t.Helper()
	files, err := r.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return files
}
