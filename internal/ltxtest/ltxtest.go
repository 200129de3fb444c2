// Package ltxtest turns the changes of a local SQLite database into LTX
// files of a replica, the way an uploader does, so that tests can grow,
// shrink, compact and prune a replica while readers follow it.
//
// A Writer owns a local database in rollback-journal (DELETE) mode, so the
// file on disk always holds the last committed state. Commit diffs that
// file against the image uploaded last, page by page, and uploads the
// changed pages as the next level-0 file with the backend's Write (the file
// backend writes a temp file and renames it, as an uploader must).
package ltxtest

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3" // the local database
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Option configures a Writer.
type Option func(*Writer)

// SnapshotLevel makes Snapshot upload TXID 1 at level (0 or 9; the default
// is 0, i.e. a level-0 file [1-1], which is a complete database too).
func SnapshotLevel(level int) Option { return func(w *Writer) { w.snapshotLevel = level } }

// Clock sets where header timestamps come from (default time.Now), so that
// tests of time travel can place commits at chosen moments.
func Clock(now func() time.Time) Option { return func(w *Writer) { w.now = now } }

// Writer uploads the states of a local database as LTX files. Its methods
// may be called from several goroutines; they are serialized.
type Writer struct {
	t             testing.TB
	store         storage.Backend
	path          string
	db            *sql.DB
	snapshotLevel int
	now           func() time.Time

	mu    sync.Mutex
	txid  ltx.TXID // last uploaded
	image []byte   // the database file as of txid
}

// NewWriter opens (creating it if needed) the local database at path in
// rollback-journal mode. Nothing is uploaded until Snapshot or Commit.
func NewWriter(t testing.TB, store storage.Backend, path string, opts ...Option) *Writer {
	t.Helper()
	w := &Writer{t: t, store: store, path: path, now: time.Now}
	for _, o := range opts {
		o(w)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=DELETE&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	db.SetMaxOpenConns(1) // one connection: its changes are in the file once committed
	// A test database needs no durability; fsyncs would only slow commits.
	if _, err := db.Exec(`pragma journal_mode=delete; pragma synchronous=off`); err != nil {
		t.Fatalf("ltxtest: %s: %v", path, err)
	}
	t.Cleanup(func() { db.Close() })
	w.db = db
	return w
}

// DB is the local database. Change it, then call Commit.
func (w *Writer) DB() *sql.DB { return w.db }

// TXID is the last uploaded TXID (0 before the first upload).
func (w *Writer) TXID() ltx.TXID {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.txid
}

// Exec runs statements on the local database and commits them as one
// LTX file, failing the test on error.
func (w *Writer) Exec(query string, args ...any) storage.FileInfo {
	w.t.Helper()
	if _, err := w.db.Exec(query, args...); err != nil {
		w.t.Fatalf("ltxtest: %s: %v", query, err)
	}
	return w.Commit()
}

// Snapshot uploads the whole local database as TXID 1, at the snapshot
// level chosen by the SnapshotLevel option.
func (w *Writer) Snapshot() storage.FileInfo {
	w.t.Helper()
	f, err := w.TrySnapshot()
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

// TrySnapshot is Snapshot returning its error, for use off the test goroutine.
func (w *Writer) TrySnapshot() (storage.FileInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.txid != 0 {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: snapshot after TXID %s: a snapshot is TXID 1", w.txid)
	}
	return w.upload(w.snapshotLevel, true)
}

// Commit uploads the pages changed since the last upload as the next
// level-0 file; the first upload is a complete level-0 file [1-1].
func (w *Writer) Commit() storage.FileInfo {
	w.t.Helper()
	f, err := w.TryCommit()
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

// TryCommit is Commit returning its error, for use off the test goroutine.
func (w *Writer) TryCommit() (storage.FileInfo, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.upload(0, w.txid == 0)
}

func (w *Writer) upload(level int, full bool) (storage.FileInfo, error) {
	// In WAL mode the file lags the commit; a checkpoint brings it up to date.
	if _, err := w.db.Exec(`pragma wal_checkpoint(truncate)`); err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: checkpoint %s: %w", w.path, err)
	}
	cur, err := os.ReadFile(w.path)
	if err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: %w", err)
	}
	pageSize, err := pageSizeOf(cur)
	if err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: %s: %w", w.path, err)
	}
	var prev []byte
	if !full {
		prev = w.image
	}
	var buf bytes.Buffer
	hdr := replica.FileHeader{
		PageSize:  pageSize,
		Commit:    uint32(len(cur) / int(pageSize)),
		MinTXID:   w.txid + 1,
		MaxTXID:   w.txid + 1,
		Timestamp: w.now(),
	}
	if full {
		hdr.MinTXID, hdr.MaxTXID = 1, 1
	}
	if err := encode(&buf, hdr, changedPages(prev, cur, pageSize)); err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: encode TXID %s: %w", hdr.MaxTXID, err)
	}
	f := storage.FileInfo{Level: level, MinTXID: hdr.MinTXID, MaxTXID: hdr.MaxTXID, Size: int64(buf.Len())}
	if err := w.store.Write(context.Background(), f, hdr.Timestamp, &buf); err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: upload %s: %w", f, err)
	}
	w.txid, w.image = hdr.MaxTXID, cur
	return f, nil
}

// page is one page to encode.
type page struct {
	pgno uint32
	data []byte
}

// changedPages lists the pages of cur that differ from prev (all of them
// when prev is nil), in ascending order, without the lock page.
func changedPages(prev, cur []byte, pageSize uint32) []page {
	var out []page
	lock := ltx.LockPgno(pageSize)
	ps := int(pageSize)
	for off := 0; off+ps <= len(cur); off += ps {
		pgno := uint32(off/ps) + 1
		if pgno == lock {
			continue
		}
		data := cur[off : off+ps]
		if prev != nil && off+ps <= len(prev) && bytes.Equal(prev[off:off+ps], data) {
			continue
		}
		out = append(out, page{pgno, data})
	}
	return out
}

func encode(w io.Writer, hdr replica.FileHeader, pages []page) error {
	enc, err := replica.NewEncoder(w, hdr, false)
	if err != nil {
		return err
	}
	for _, p := range pages {
		if err := enc.WritePage(p.pgno, p.data); err != nil {
			enc.Abort()
			return err
		}
	}
	return enc.Close()
}

// pageSizeOf reads the page size from a database header.
func pageSizeOf(db []byte) (uint32, error) {
	if len(db) < 100 || string(db[:16]) != "SQLite format 3\x00" {
		return 0, errors.New("not a SQLite database (or empty)")
	}
	ps := uint32(binary.BigEndian.Uint16(db[16:18]))
	if ps == 1 {
		ps = 65536
	}
	if !ltx.IsValidPageSize(ps) || len(db)%int(ps) != 0 {
		return 0, fmt.Errorf("page size %d does not fit a %d-byte file", ps, len(db))
	}
	return ps, nil
}

// Compact merges the files that cover [minTXID, maxTXID] at the levels
// below level into one file at level, as a compactor does. The inputs are
// left in place; delete them with Delete to simulate pruning.
func (w *Writer) Compact(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	w.t.Helper()
	f, err := w.TryCompact(level, minTXID, maxTXID)
	if err != nil {
		w.t.Fatal(err)
	}
	return f
}

// TryCompact is Compact returning its error. It uses the merge every
// compactor of strata uses (replica.Compact); the output replaces a file of
// the same name.
func (w *Writer) TryCompact(level int, minTXID, maxTXID ltx.TXID) (storage.FileInfo, error) {
	ctx := context.Background()
	inputs, err := w.chain(ctx, level, minTXID, maxTXID)
	if err != nil {
		return storage.FileInfo{}, err
	}
	f, err := replica.New(w.store).Compact(ctx, inputs, level, replica.CompactOptions{Overwrite: true})
	if err != nil {
		return storage.FileInfo{}, fmt.Errorf("ltxtest: compact L%d %s-%s: %w", level, minTXID, maxTXID, err)
	}
	return f, nil
}

// chain finds files below level (never snapshots) that tile
// [minTXID, maxTXID], preferring the largest file at each step.
func (w *Writer) chain(ctx context.Context, level int, minTXID, maxTXID ltx.TXID) ([]storage.FileInfo, error) {
	var files []storage.FileInfo
	for l := range min(level, storage.SnapshotLevel) {
		fs, err := w.store.List(ctx, l, 0)
		if err != nil {
			return nil, fmt.Errorf("ltxtest: list level %d: %w", l, err)
		}
		files = append(files, fs...)
	}
	var out []storage.FileInfo
	for next := minTXID; next <= maxTXID; {
		var best storage.FileInfo
		for _, f := range files {
			if f.MinTXID == next && f.MaxTXID <= maxTXID && f.MaxTXID > best.MaxTXID {
				best = f
			}
		}
		if best.MaxTXID == 0 {
			return nil, fmt.Errorf("ltxtest: compact to L%d: no file below L%d starts at TXID %s", level, level, next)
		}
		out = append(out, best)
		next = best.MaxTXID + 1
	}
	return out, nil
}

// Delete removes the files of level whose TXIDs lie within [minTXID,
// maxTXID], as a retention pass does after compaction.
func (w *Writer) Delete(level int, minTXID, maxTXID ltx.TXID) []storage.FileInfo {
	w.t.Helper()
	ctx := context.Background()
	files, err := w.store.List(ctx, level, minTXID)
	if err != nil {
		w.t.Fatal(err)
	}
	var del []storage.FileInfo
	for _, f := range files {
		if f.MaxTXID <= maxTXID {
			del = append(del, f)
		}
	}
	if err := w.store.Delete(ctx, del); err != nil {
		w.t.Fatal(err)
	}
	return del
}
