package vfs_test

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// emptyReplica is a new, empty directory replica.
func emptyReplica(t testing.TB) (url string, store *filestore.Store) {
	t.Helper()
	store, err := filestore.New(filepath.Join(t.TempDir(), "replica"))
	if err != nil {
		t.Fatal(err)
	}
	return "file://" + store.Dir(), store
}

// openWriter opens a replica for writing, with its write buffer in a
// temporary directory, polling every pollInterval unless params say
// otherwise.
func openWriter(t testing.TB, url string, params ...string) *sql.DB {
	t.Helper()
	return open(t, url, append([]string{"write", "1", "buffer", t.TempDir()}, params...)...)
}

func exec(t testing.TB, q interface {
	ExecContext(context.Context, string, ...any) (sql.Result, error)
}, query string, args ...any) {
	t.Helper()
	if _, err := q.ExecContext(context.Background(), query, args...); err != nil {
		t.Fatalf("%s: %v", query, err)
	}
}

// levelFiles lists one level of a replica.
func levelFiles(t testing.TB, store storage.Backend, level int) []storage.FileInfo {
	t.Helper()
	files, err := store.List(context.Background(), level, 0)
	if errors.Is(err, storage.ErrNoReplica) {
		return nil // nothing written yet: not even the directory
	}
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// restoreSum restores the latest state of a replica into a file and
// returns select count(*), sum(v) from t there, checking its integrity.
func restoreSum(t testing.TB, store storage.Backend) (n, sum int64) {
	t.Helper()
	r := replica.New(store)
	ctx := context.Background()
	plan, err := r.Plan(ctx, replica.Target{})
	if err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	fh, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, plan, fh, replica.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	fh.Close()
	db, err := sql.Open("sqlite3", "file:"+out+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	checkIntegrity(t, db)
	if err := db.QueryRow(`select count(*), coalesce(sum(v), 0) from t`).Scan(&n, &sum); err != nil {
		t.Fatal(err)
	}
	return n, sum
}

// The first commit on an empty replica creates the database: a complete
// level-0 file for TXID 1, in the page size set before the first write.
// Each later commit is the next level-0 file; readers of the process see
// every commit at once, and the replica restores to what was written.
func TestWriteCreatesADatabaseOnAnEmptyReplica(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url)
	c := conn(t, db)
	exec(t, c, `pragma page_size = 1024`)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	files := levelFiles(t, store, 0)
	if len(files) != 1 || files[0].MinTXID != 1 || files[0].MaxTXID != 1 {
		t.Fatalf("after the first commit level 0 holds %v, want the file of TXID 1", files)
	}
	x, err := replica.New(store).Index(context.Background(), files[0])
	if err != nil {
		t.Fatal(err)
	}
	if x.Header.PageSize != 1024 || !x.Header.IsSnapshot() || len(x.Frames) != int(x.Header.Commit) {
		t.Errorf("TXID 1: page size %d, %d frames for %d pages; want a complete 1024-byte-page database", x.Header.PageSize, len(x.Frames), x.Header.Commit)
	}
	for i := 1; i <= 5; i++ {
		exec(t, c, `insert into t(v) values (?)`, i)
	}
	tx, err := c.BeginTx(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	for i := 6; i <= 100; i++ {
		exec(t, tx, `insert into t(v) values (?)`, i)
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	if got := levelFiles(t, store, 0); len(got) != 7 || got[6].MaxTXID != 7 {
		t.Fatalf("level 0 after 7 commits: %v", got)
	}
	// Another connection of the process sees the last commit at once.
	other := open(t, url, "poll_interval", neverPoll)
	if got := scalar[int64](t, other, `select sum(v) from t`); got != 5050 {
		t.Errorf("another connection reads sum %d, want 5050", got)
	}
	if n, sum := restoreSum(t, store); n != 100 || sum != 5050 {
		t.Errorf("restored: %d rows, sum %d; want 100, 5050", n, sum)
	}
}

// Writes are off unless asked for: a write fails with SQLITE_READONLY,
// and the connection's strata_last_error says how to enable writes.
func TestWriteRefusedWithoutWrite(t *testing.T) {
	url, _ := emptyReplica(t)
	seed := openWriter(t, url)
	exec(t, seed, `create table t(id integer primary key, v integer)`)
	c := conn(t, open(t, url))
	_, err := c.ExecContext(context.Background(), `insert into t(v) values (1)`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrReadonly {
		t.Fatalf("insert without write=1: %v, want SQLITE_READONLY", err)
	}
	if msg := scalar[string](t, c, `pragma strata_last_error`); !strings.Contains(msg, "write=1") {
		t.Errorf("strata_last_error = %q, want a hint about write=1", msg)
	}
}

// A second connection asking for the write lock gets SQLITE_BUSY while
// the first holds it, and gets it once the first commits.
func TestWriteOneWriterAtATime(t *testing.T) {
	url, _ := emptyReplica(t)
	db := openWriter(t, url, "_busy_timeout", "0")
	a, b := conn(t, db), conn(t, db)
	exec(t, a, `create table t(id integer primary key, v integer)`)
	exec(t, a, `begin immediate`)
	exec(t, a, `insert into t(v) values (1)`)
	_, err := b.ExecContext(context.Background(), `begin immediate`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy {
		t.Fatalf("second writer: %v, want SQLITE_BUSY", err)
	}
	// A reader is not blocked, and sees the last commit, not the writer's pages.
	if got := scalar[int64](t, b, `select count(*) from t`); got != 0 {
		t.Errorf("reader during the write sees %d rows, want 0", got)
	}
	exec(t, a, `commit`)
	exec(t, b, `begin immediate`)
	exec(t, b, `insert into t(v) values (2)`)
	exec(t, b, `commit`)
	if got := scalar[int64](t, a, `select sum(v) from t`); got != 3 {
		t.Errorf("sum %d, want 3", got)
	}
}

// A transaction that read a state another connection has since replaced
// cannot write on it: it gets SQLITE_BUSY and must start over.
func TestWriteOnAStaleSnapshotIsBusy(t *testing.T) {
	url, _ := emptyReplica(t)
	db := openWriter(t, url, "_busy_timeout", "0")
	a, b := conn(t, db), conn(t, db)
	exec(t, a, `create table t(id integer primary key, v integer)`)
	exec(t, a, `begin`)
	if got := scalar[int64](t, a, `select count(*) from t`); got != 0 {
		t.Fatal(got)
	}
	exec(t, b, `insert into t(v) values (1)`)
	_, err := a.ExecContext(context.Background(), `insert into t(v) values (2)`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy {
		t.Fatalf("write on a stale snapshot: %v, want SQLITE_BUSY", err)
	}
	exec(t, a, `rollback`)
	exec(t, a, `insert into t(v) values (2)`)
	if got := scalar[int64](t, b, `select sum(v) from t`); got != 3 {
		t.Errorf("sum %d, want 3", got)
	}
}

// ROLLBACK and failed statements leave nothing behind: no new TXID, even
// when the transaction wrote more pages than SQLite's cache holds (SQLite
// then writes them early and puts the originals back on rollback).
func TestWriteRollbackStoresNothing(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url)
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer, pad blob)`)
	exec(t, c, `insert into t(v, pad) values (1, zeroblob(100))`)
	before := levelFiles(t, store, 0)

	exec(t, c, `begin`)
	exec(t, c, `insert into t(v) values (2)`)
	exec(t, c, `rollback`)

	exec(t, c, `pragma cache_size = 10`) // a few pages: the big transaction spills
	exec(t, c, `begin`)
	exec(t, c, `with recursive n(i) as (select 1 union all select i+1 from n where i < 3000)
		insert into t(v, pad) select i, randomblob(500) from n`)
	exec(t, c, `rollback`)

	// A statement that fails halfway is undone; the transaction goes on.
	exec(t, c, `create unique index tv on t(v)`)
	exec(t, c, `begin`)
	if _, err := c.ExecContext(context.Background(), `insert into t(v) values (5), (6), (1)`); err == nil {
		t.Fatal("a duplicate key was inserted")
	}
	exec(t, c, `insert into t(v) values (7)`)
	exec(t, c, `commit`)

	after := levelFiles(t, store, 0)
	if len(after) != len(before)+2 { // the index, and the last transaction
		t.Errorf("level 0 went from %d to %d files, want 2 more (the rollbacks store nothing)", len(before), len(after))
	}
	if n, sum := restoreSum(t, store); n != 2 || sum != 8 {
		t.Errorf("restored: %d rows, sum %d; want 2, 8", n, sum)
	}
	checkIntegrity(t, c)
}

// After a commit the writer reads its pages back from storage when the
// cache no longer holds them: the view holds the stored file's pages.
func TestWriteReadsItsOwnWritesAfterEviction(t *testing.T) {
	url, _ := emptyReplica(t)
	db := openWriter(t, url, "cache_size", "64KiB")
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer, pad blob)`)
	for i := range 20 {
		exec(t, c, `insert into t(v, pad) select ?, randomblob(2000) from (select 1 union all select 2 union all select 3)`, i)
	}
	exec(t, c, `pragma cache_size = 0`) // SQLite's own cache: nothing
	checkIntegrity(t, c)
	if got := scalar[int64](t, c, `select count(*) from t`); got != 60 {
		t.Errorf("%d rows, want 60", got)
	}
}

// WAL is refused on a replica; the journal mode stays a rollback journal.
func TestWriteRefusesWAL(t *testing.T) {
	url, _ := emptyReplica(t)
	c := conn(t, openWriter(t, url))
	exec(t, c, `create table t(x)`)
	if _, err := tryScalar[string](c, `pragma journal_mode = wal`); err == nil || !strings.Contains(err.Error(), "WAL is not supported") {
		t.Errorf("journal_mode=wal: %v", err)
	}
	if _, err := tryScalar[string](c, `pragma journal_mode = off`); err == nil {
		t.Error("journal_mode=off accepted on a writable replica")
	}
	if got := scalar[string](t, c, `pragma journal_mode`); got != "delete" {
		t.Errorf("journal_mode = %s", got)
	}
	exec(t, c, `insert into t values (1)`)
}

// A commit whose TXID another writer stored first fails with
// SQLITE_BUSY (extended code SQLITE_BUSY_SNAPSHOT) and is rolled back;
// once the replica is polled, the next transaction succeeds on top of the
// other writer's commit.
func TestWriteConflictWithAnotherWriter(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	exec(t, c, `insert into t(v) values (1)`) // TXID 2

	exec(t, c, `begin immediate`)
	exec(t, c, `insert into t(v) values (10)`)
	// Meanwhile "another process" stores TXID 3: a copy of TXID 2.
	steal(t, store, 2, 3)
	_, err := c.ExecContext(context.Background(), `commit`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrBusy || se.ExtendedCode != sqlite3.ErrBusySnapshot {
		t.Fatalf("commit over another writer's TXID: %v (%#v), want SQLITE_BUSY_SNAPSHOT", err, se)
	}
	c.ExecContext(context.Background(), `rollback`) // database/sql leaves it to the caller
	if msg := scalar[string](t, c, `pragma strata_last_error`); !strings.Contains(msg, "TXID 0000000000000003") {
		t.Errorf("strata_last_error = %q, want it to name TXID 3", msg)
	}
	if err := strata.PollNow(url); err != nil {
		t.Fatal(err)
	}
	exec(t, c, `insert into t(v) values (20)`)
	if got := scalar[int64](t, c, `select sum(v) from t`); got != 21 {
		t.Errorf("sum %d, want 21 (the lost transaction not applied)", got)
	}
	if files := levelFiles(t, store, 0); files[len(files)-1].MaxTXID != 4 {
		t.Errorf("the retry stored %v, want TXID 4 last", files[len(files)-1])
	}
}

// steal stores a copy of the level-0 file of TXID from as the file of
// TXID to, as another writer would.
func steal(t testing.TB, store *filestore.Store, from, to ltx.TXID) {
	t.Helper()
	data, err := os.ReadFile(filepath.Join(store.Dir(), "ltx", "0", ltx.FormatFilename(from, from)))
	if err != nil {
		t.Fatal(err)
	}
	var spec ltx.FileSpec
	if _, err := spec.ReadFrom(bytes.NewReader(data)); err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	h := spec.Header
	enc, err := replica.NewEncoder(&buf, replica.FileHeader{PageSize: h.PageSize, Commit: h.Commit, MinTXID: to, MaxTXID: to, Timestamp: time.Now()}, false)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range spec.Pages {
		if err := enc.WritePage(p.Header.Pgno, p.Data); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	f := storage.FileInfo{Level: 0, MinTXID: to, MaxTXID: to, Size: int64(buf.Len())}
	if err := store.WriteNew(context.Background(), f, time.Now(), &buf); err != nil {
		t.Fatal(err)
	}
}

// In group commit a COMMIT returns once it is in the local write buffer:
// the connections of the process see it at once, storage sees nothing
// until the interval (here: PRAGMA strata_sync) stores every pending
// commit as one level-0 file.
func TestGroupCommitStoresPendingCommitsTogether(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url, "sync", "1h")
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	if got := scalar[string](t, c, `pragma strata_sync`); got != "0000000000000001" {
		t.Fatalf("strata_sync = %s, want TXID 1", got)
	}
	for i := 1; i <= 50; i++ {
		exec(t, c, `insert into t(v) values (?)`, i)
	}
	exec(t, c, `update t set v = v * 2 where v % 2 = 0`)
	if files := levelFiles(t, store, 0); len(files) != 1 {
		t.Fatalf("before the sync level 0 holds %d files, want only TXID 1", len(files))
	}
	want := int64(1275 + 650) // the even values doubled
	other := conn(t, db)
	if got := scalar[int64](t, other, `select sum(v) from t`); got != want {
		t.Errorf("another connection reads sum %d before the sync, want %d", got, want)
	}
	if got := scalar[string](t, other, `pragma strata_sync`); got != "0000000000000002" {
		t.Fatalf("strata_sync = %s, want TXID 2 (51 commits in one file)", got)
	}
	if files := levelFiles(t, store, 0); len(files) != 2 || files[1].MaxTXID != 2 {
		t.Fatalf("after the sync level 0 holds %v", files)
	}
	if n, sum := restoreSum(t, store); n != 50 || sum != want {
		t.Errorf("restored %d rows, sum %d; want 50, %d", n, sum, want)
	}
	// The view now reads the stored file; writing goes on.
	exec(t, c, `insert into t(v) values (1000)`)
	if got := scalar[int64](t, other, `select sum(v) from t`); got != want+1000 {
		t.Errorf("sum %d, want %d", got, want+1000)
	}
	checkIntegrity(t, other)
}

// A conflict found when the pending commits are stored cannot fail the
// COMMITs, which already returned: the replica turns read-only for the
// process, every further write says why, and the buffer is kept.
func TestGroupCommitConflictTurnsReadOnly(t *testing.T) {
	url, store := emptyReplica(t)
	buffer := t.TempDir()
	db := open(t, url, "write", "1", "buffer", buffer, "sync", "1h", "_busy_timeout", "0")
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	scalar[string](t, c, `pragma strata_sync`) // TXID 1
	exec(t, c, `insert into t(v) values (1)`)  // pending, would be TXID 2
	steal(t, store, 1, 2)                      // another writer stores TXID 2
	if _, err := tryScalar[string](c, `pragma strata_sync`); err == nil || !strings.Contains(err.Error(), "conflict") {
		t.Fatalf("strata_sync over another writer's TXID: %v, want a conflict", err)
	}
	_, err := c.ExecContext(context.Background(), `insert into t(v) values (2)`)
	var se sqlite3.Error
	if !errors.As(err, &se) || se.Code != sqlite3.ErrReadonly {
		t.Fatalf("write after the conflict: %v, want SQLITE_READONLY", err)
	}
	msg := scalar[string](t, c, `pragma strata_last_error`)
	if !strings.Contains(msg, buffer) || !strings.Contains(msg, "1 commits") {
		t.Errorf("strata_last_error = %q, want it to name the buffer %s and the commit kept there", msg, buffer)
	}
	if _, err := os.Stat(filepath.Join(buffer, "pending.log")); err != nil {
		t.Errorf("the buffer is gone: %v", err)
	}
	// Readers see the replica's own state again: the other writer's TXID 2.
	if got := scalar[int64](t, c, `select count(*) from t`); got != 0 {
		t.Errorf("after the conflict the process reads %d rows, want the replica's 0", got)
	}
}

// A writer compacts its replica as it goes (compaction is on with writes
// unless compact=0): level-0 files are merged into level 1 and pruned,
// and readers and restores see the same data throughout.
func TestWriterCompactsItsReplica(t *testing.T) {
	url, store := emptyReplica(t)
	db := openWriter(t, url, "compact_levels", "100ms", "l0_retention", "300ms", "snapshot_interval", "1s", "snapshot_retention", "5s")
	c := conn(t, db)
	exec(t, c, `create table t(id integer primary key, v integer)`)
	var want int64
	eventually(t, 20*time.Second, func() (bool, string) {
		want++
		exec(t, c, `insert into t(v) values (?)`, want)
		l1, l0 := levelFiles(t, store, 1), levelFiles(t, store, 0)
		return len(l1) > 0 && l0[0].MinTXID > 1, fmt.Sprintf("%d files at level 1, level 0 from TXID %s", len(l1), l0[0].MinTXID)
	})
	if got := scalar[int64](t, c, `select count(*) from t`); got != want {
		t.Errorf("%d rows, want %d", got, want)
	}
	if n, sum := restoreSum(t, store); n != want || sum != want*(want+1)/2 {
		t.Errorf("restored %d rows, sum %d; want %d, %d", n, sum, want, want*(want+1)/2)
	}

	// compact=0: another replica written without a compactor keeps level 0.
	url2, store2 := emptyReplica(t)
	c2 := conn(t, openWriter(t, url2, "compact", "0", "compact_levels", "100ms"))
	exec(t, c2, `create table t(id integer primary key, v integer)`)
	for i := range 10 {
		exec(t, c2, `insert into t(v) values (?)`, i)
	}
	time.Sleep(300 * time.Millisecond)
	if l1 := levelFiles(t, store2, 1); len(l1) != 0 {
		t.Errorf("compact=0, yet level 1 holds %v", l1)
	}
}
