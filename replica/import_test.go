package replica_test

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/dbcopy"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// batch is how many rows the writers of these tests commit at once: a
// consistent copy always holds a multiple of it.
const batch = 50

// cents is the value every row holds, so that a restored row can be checked
// against its id alone.
func cents(id int64) int64 { return id*7919%100003 + 1 }

// createDB creates a SQLite database in WAL mode with rows 1..rows (a
// multiple of batch) in a table with an index, and returns its path.
func createDB(t testing.TB, pageSize, rows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "src.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // page_size must be set on the connection that creates the file
	for _, q := range []string{
		fmt.Sprintf(`pragma page_size = %d`, pageSize),
		`pragma journal_mode = wal`,
		`create table items(id integer primary key, name text not null, cents integer not null)`,
		`create index items_name on items(name)`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	for next := int64(1); next <= int64(rows); next += batch {
		if err := insertBatch(db, next); err != nil {
			t.Fatal(err)
		}
	}
	return path
}

// insertBatch inserts rows first..first+batch-1 in one transaction.
func insertBatch(db *sql.DB, first int64) error {
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for id := first; id < first+batch; id++ {
		if _, err := tx.Exec(`insert into items values (?, ?, ?)`, id, fmt.Sprintf("customer %06d %s", id, strings.Repeat("x", int(id%40))), cents(id)); err != nil {
			return err
		}
	}
	return tx.Commit()
}

// checkItems checks that a restored database is a consistent copy of one
// written by createDB/insertBatch: integrity ok, rows 1..n with their
// values, n a multiple of batch, and the index usable. It returns n.
func checkItems(t testing.TB, path string) int64 {
	t.Helper()
	db := openDB(t, path)
	checkIntegrity(t, db, path)
	var n, bad, maxID, viaIndex int64
	if err := db.QueryRow(`select count(*), coalesce(max(id), 0) from items`).Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if n != maxID || n%batch != 0 {
		t.Fatalf("%s: %d rows, max id %d: not a consistent copy (rows are committed %d at a time from id 1)", path, n, maxID, batch)
	}
	if err := db.QueryRow(`select count(*) from items where cents != id*7919%100003 + 1`).Scan(&bad); err != nil {
		t.Fatal(err)
	}
	if bad != 0 {
		t.Fatalf("%s: %d rows hold the wrong value", path, bad)
	}
	if err := db.QueryRow(`select count(*) from items indexed by items_name where name >= 'customer'`).Scan(&viaIndex); err != nil {
		t.Fatal(err)
	}
	if viaIndex != n {
		t.Fatalf("%s: index items_name finds %d rows, table has %d", path, viaIndex, n)
	}
	return n
}

// importLive imports a database that may be in use the way `strata import`
// does: a consistent copy with SQLite's backup API, then Import of the copy.
func importLive(t testing.TB, r *replica.Replica, src string) (storage.FileInfo, error) {
	t.Helper()
	ctx := context.Background()
	if err := r.CheckEmpty(ctx); err != nil {
		return storage.FileInfo{}, err
	}
	snapshot := filepath.Join(t.TempDir(), "snapshot.db")
	if err := dbcopy.Copy(ctx, src, snapshot); err != nil {
		return storage.FileInfo{}, err
	}
	return r.Import(ctx, snapshot)
}

// TestImportWhileWriting imports a database that another connection keeps
// writing to, then restores it: the copy is one consistent state.
func TestImportWhileWriting(t *testing.T) {
	src := createDB(t, 4096, 3000)

	writer, err := sql.Open("sqlite3", "file:"+src+"?_busy_timeout=5000")
	if err != nil {
		t.Fatal(err)
	}
	defer writer.Close()
	writer.SetMaxOpenConns(1)

	stop := make(chan struct{})
	firstCommit := make(chan struct{})
	done := make(chan int64, 1)
	werr := make(chan error, 1)
	go func() {
		next := int64(3001)
		for {
			if err := insertBatch(writer, next); err != nil {
				werr <- err
				close(done)
				return
			}
			if next == 3001 {
				close(firstCommit)
			}
			next += batch
			select {
			case <-stop:
				done <- next - 1
				return
			default:
			}
		}
	}()
	select {
	case <-firstCommit:
	case err := <-werr:
		t.Fatalf("writer: %v", err)
	}

	r := openDir(t, t.TempDir())
	f, err := importLive(t, r, src)
	close(stop)
	written := <-done
	select {
	case err := <-werr:
		t.Fatalf("writer failed during import: %v", err)
	default:
	}
	if err != nil {
		t.Fatalf("Import: %v", err)
	}
	if f.Level != storage.SnapshotLevel || f.MinTXID != 1 || f.MaxTXID != 1 {
		t.Errorf("Import wrote %s, want the snapshot L9 [1-1]", f)
	}

	path, plan := restore(t, r, replica.Latest())
	if plan.TXID != 1 || len(plan.Files) != 1 {
		t.Errorf("plan after import: TXID %s, %d files; want TXID 1 from the snapshot", plan.TXID, len(plan.Files))
	}
	n := checkItems(t, path)
	t.Logf("imported %d rows while the writer went from 3000 to %d rows", n, written)
	if n < 3000 || n > written {
		t.Errorf("restored %d rows; the source held between 3000 and %d during the import", n, written)
	}
}

// TestImportRoundTrip: a database imported and restored is the same
// database, for the smallest, the default and the largest page size.
// Import of a quiescent file gives back that very file; an import through
// a backup copy gives back a file byte-identical to a backup-API copy.
func TestImportRoundTrip(t *testing.T) {
	for _, pageSize := range []int{512, 4096, 65536} {
		t.Run(fmt.Sprintf("page size %d", pageSize), func(t *testing.T) {
			ctx := context.Background()
			src := createDB(t, pageSize, 2000)
			srcBytes := readFile(t, src)

			direct := openDir(t, t.TempDir())
			if _, err := direct.Import(ctx, src); err != nil {
				t.Fatalf("Import: %v", err)
			}
			restored, _ := restore(t, direct, replica.Latest())
			sameFile(t, pageSize, readFile(t, restored), srcBytes, "the imported file")

			viaCopy := openDir(t, t.TempDir())
			if _, err := importLive(t, viaCopy, src); err != nil {
				t.Fatalf("import through a backup copy: %v", err)
			}
			restoredCopy, _ := restore(t, viaCopy, replica.Latest())
			sameFile(t, pageSize, readFile(t, restoredCopy), readFile(t, backupCopy(t, src)), "a backup-API copy")

			for _, path := range []string{restored, restoredCopy} {
				db := openDB(t, path)
				var ps int
				if err := db.QueryRow(`pragma page_size`).Scan(&ps); err != nil || ps != pageSize {
					t.Errorf("restored page_size = %d, %v; want %d", ps, err, pageSize)
				}
				if n := checkItems(t, path); n != 2000 {
					t.Errorf("restored %d rows, want 2000", n)
				}
			}
		})
	}
}

func readFile(t testing.TB, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// sameFile fails the test unless got and want are the same bytes, naming
// the first page and offsets that differ.
func sameFile(t testing.TB, pageSize int, got, want []byte, what string) {
	t.Helper()
	if len(got) != len(want) {
		t.Fatalf("restored file is %d bytes (%d pages), %s %d bytes (%d pages)",
			len(got), len(got)/pageSize, what, len(want), len(want)/pageSize)
	}
	for off := 0; off < len(got); off += pageSize {
		if bytes.Equal(got[off:off+pageSize], want[off:off+pageSize]) {
			continue
		}
		var diff []int
		for i := off; i < off+pageSize; i++ {
			if got[i] != want[i] {
				diff = append(diff, i-off)
			}
		}
		t.Fatalf("restored file differs from %s in page %d at offsets %v", what, off/pageSize+1, diff)
	}
}

// backupCopy copies a database with SQLite's online backup API.
func backupCopy(t testing.TB, src string) string {
	t.Helper()
	ctx := context.Background()
	dst := filepath.Join(t.TempDir(), "backup.db")
	srcDB, dstDB := openDB(t, src), openDB(t, dst)
	sc, err := srcDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer sc.Close()
	dc, err := dstDB.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer dc.Close()
	err = dc.Raw(func(d any) error {
		return sc.Raw(func(s any) error {
			b, err := d.(*sqlite3.SQLiteConn).Backup("main", s.(*sqlite3.SQLiteConn), "main")
			if err != nil {
				return err
			}
			if _, err := b.Step(-1); err != nil {
				b.Close()
				return err
			}
			return b.Finish()
		})
	})
	if err != nil {
		t.Fatalf("backup %s: %v", src, err)
	}
	return dst
}

func TestImportRefusals(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("this is not a database\n"), 400), 0o644); err != nil {
		t.Fatal(err)
	}
	missing := filepath.Join(dir, "missing.db")

	tests := []struct {
		name    string
		replica func(t *testing.T) *replica.Replica
		db      func(t *testing.T) string
		mention []string
	}{
		{
			name:    "into a replica that already holds files",
			replica: func(t *testing.T) *replica.Replica { return openDir(t, fixture.CopyReplica(t)) },
			db:      func(t *testing.T) string { return createDB(t, 4096, 50) },
			mention: []string{"not empty", fixture.Truth(t)[len(fixture.Truth(t))-1].TXID.String()},
		},
		{
			name:    "a file that is not a SQLite database",
			replica: func(t *testing.T) *replica.Replica { return openDir(t, t.TempDir()) },
			db:      func(*testing.T) string { return notDB },
			mention: []string{notDB},
		},
		{
			name:    "a database that does not exist",
			replica: func(t *testing.T) *replica.Replica { return openDir(t, t.TempDir()) },
			db:      func(*testing.T) string { return missing },
			mention: []string{missing},
		},
	}
	ways := []struct {
		name string
		do   func(t testing.TB, r *replica.Replica, db string) (storage.FileInfo, error)
	}{
		{"Import", func(_ testing.TB, r *replica.Replica, db string) (storage.FileInfo, error) { return r.Import(ctx, db) }},
		{"backup copy, then Import", importLive},
	}
	for _, tt := range tests {
		for _, way := range ways {
			t.Run(tt.name+"/"+way.name, func(t *testing.T) {
				r := tt.replica(t)
				before := listAll(t, r)
				_, err := way.do(t, r, tt.db(t))
				if err == nil {
					t.Fatal("import succeeded")
				}
				t.Logf("error: %v", err)
				for _, m := range tt.mention {
					if !strings.Contains(err.Error(), m) {
						t.Errorf("error %q does not mention %q", err, m)
					}
				}
				if after := listAll(t, r); len(after) != len(before) {
					t.Errorf("a refused import changed the replica: %d files before, %d after", len(before), len(after))
				}
			})
		}
	}
}

// TestImportTwice: the second import into the same replica is refused.
func TestImportTwice(t *testing.T) {
	ctx := context.Background()
	src := createDB(t, 4096, 100)
	r := openDir(t, t.TempDir())
	if _, err := r.Import(ctx, src); err != nil {
		t.Fatal(err)
	}
	if _, err := r.Import(ctx, src); err == nil || !strings.Contains(err.Error(), "not empty") {
		t.Fatalf("second Import: %v, want a 'not empty' refusal", err)
	}
}

// Two imports racing into one empty replica: both may pass the emptiness
// check, but the snapshot is created only if absent, so exactly one wins
// and the other says why; the winner's snapshot is never replaced.
func TestConcurrentImportsOneWins(t *testing.T) {
	ctx := context.Background()
	dir := t.TempDir()
	srcs := []string{createDB(t, 4096, 500), createDB(t, 4096, 1500)}
	errs := make([]error, len(srcs))
	var wg sync.WaitGroup
	for i, src := range srcs {
		wg.Go(func() {
			_, errs[i] = openDir(t, dir).Import(ctx, src)
		})
	}
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Fatalf("both imports succeeded")
		case err == nil:
			winner = i
		case !strings.Contains(err.Error(), "another import") && !strings.Contains(err.Error(), "not empty"):
			t.Errorf("the losing import: %v, want it to say the replica was taken", err)
		}
	}
	if winner < 0 {
		t.Fatalf("no import succeeded: %v", errs)
	}
	restored, _ := restore(t, openDir(t, dir), replica.Latest())
	sameFile(t, 4096, readFile(t, restored), readFile(t, srcs[winner]), "the winning import")
}
