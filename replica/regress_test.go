package replica_test

// Regression tests for bugs found in review: each fails (or panics) on the
// code before the fix.

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"math"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxmutate"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// indexEntry is one page-index entry: page number, frame offset and size.
type indexEntry struct{ pgno, offset, size uint64 }

// withIndex returns a copy of the LTX file b whose page index is replaced
// by entries (in order, then the end marker), the size field and trailer
// kept as they are.
func withIndex(t testing.TB, b []byte, entries ...indexEntry) []byte {
	t.Helper()
	n := len(b)
	idxLen := int(binary.BigEndian.Uint64(b[n-ltx.TrailerSize-8:]))
	start := n - ltx.TrailerSize - 8 - idxLen
	if start < ltx.HeaderSize {
		t.Fatalf("page index of %d bytes does not fit a %d-byte file", idxLen, n)
	}
	var idx []byte
	for _, e := range entries {
		idx = binary.AppendUvarint(idx, e.pgno)
		idx = binary.AppendUvarint(idx, e.offset)
		idx = binary.AppendUvarint(idx, e.size)
	}
	idx = binary.AppendUvarint(idx, 0)
	out := append([]byte(nil), b[:start]...)
	out = append(out, idx...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(idx)))
	return append(out, b[n-ltx.TrailerSize:]...)
}

// indexOf indexes data stored in a new replica as the file its header
// names: an L9 snapshot when it starts at TXID 1, else a level-0 file (an
// L9 snapshot [1-1] when the header is unreadable).
func indexOf(t testing.TB, data []byte) (*replica.Replica, storage.FileInfo, *replica.FileIndex, error) {
	t.Helper()
	dir := t.TempDir()
	f := storage.FileInfo{Level: storage.SnapshotLevel, MinTXID: 1, MaxTXID: 1, Size: int64(len(data))}
	var h ltx.Header
	if h.UnmarshalBinary(data) == nil && h.MinTXID > 1 && h.MaxTXID >= h.MinTXID {
		f.Level, f.MinTXID, f.MaxTXID = 0, h.MinTXID, h.MaxTXID
	}
	put(t, dir, f, data)
	r := openDir(t, dir)
	x, err := r.Index(context.Background(), f)
	return r, f, x, err
}

// wantCorrupt checks that err is a *replica.CorruptError saying what.
func wantCorrupt(t testing.TB, err error, what string) {
	t.Helper()
	var ce *replica.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("got error %v, want a *replica.CorruptError", err)
	}
	if !strings.Contains(err.Error(), what) {
		t.Errorf("error %q does not mention %q", err, what)
	}
}

// A page-index entry whose offset is near MaxInt64 is rejected as out of
// bounds: offset+size used to overflow, pass the bounds check, and make
// every later read of the frame panic (slice bounds, or a negative length
// for make in storage.ReadAt).
func TestRegressIndexOffsetOverflow(t *testing.T) {
	good := encodeLTX(t, 1, 512, 4)
	_, _, x, err := indexOf(t, good.data)
	if err != nil {
		t.Fatalf("the intact file: %v", err)
	}
	first := x.Frames[0]
	for _, tc := range []struct {
		name    string
		entries []indexEntry
	}{
		{"one entry near MaxInt64", []indexEntry{{1, math.MaxInt64 - 10, 100}}},
		{"offset+size exactly overflowing", []indexEntry{{1, math.MaxInt64 - 99, 100}}},
		{"a good entry, then one near MaxInt64", []indexEntry{
			{1, uint64(first.Offset), uint64(first.Size)}, {2, math.MaxInt64 - 10, 100}}},
		{"size near MaxInt64", []indexEntry{{1, uint64(first.Offset), math.MaxInt64 - 10}}},
		{"size no larger than a page header", []indexEntry{{1, uint64(first.Offset), ltx.PageHeaderSize}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			data := withIndex(t, good.data, tc.entries...)
			// Every read path, Restore included, fails without a panic.
			if err := exercise(t, t.TempDir(), tc.name, data); err == nil {
				t.Errorf("Restore of a file with a bad page index succeeded")
			}
			_, _, _, err := indexOf(t, data)
			wantCorrupt(t, err, "out of bounds")
		})
	}
}

// An index entry for the lock page (the page holding SQLite's lock bytes,
// which no database stores) is rejected, even when the header's Commit
// says the database is that large.
func TestRegressIndexLockPage(t *testing.T) {
	const pageSize = 65536 // the lock page is page 16385
	good := encodeLTX(t, 2, pageSize, 2)
	lock := ltx.LockPgno(pageSize)
	// A level-0 file (not a complete database: it may hold only some
	// pages) whose header says the database reaches past the lock page,
	// so only the lock-page rule can reject the entry.
	forge := func(pgnos ...uint32) []byte {
		f := ltxmutate.File{Header: good.header(t)}
		f.Header.MinTXID, f.Header.MaxTXID, f.Header.Commit = 2, 2, lock+1
		for i, pgno := range pgnos {
			f.Pages = append(f.Pages, ltxmutate.Page{Pgno: pgno, Data: good.pages[uint32(i+1)]})
		}
		return ltxmutate.Encode(f)
	}
	_, _, _, err := indexOf(t, forge(1, lock))
	wantCorrupt(t, err, "lock page")

	// The same file without the lock-page entry indexes: the rejection
	// is the lock page's, not the Commit's.
	if _, _, _, err := indexOf(t, forge(1, lock+1)); err != nil {
		t.Errorf("a file with a page just past the lock page: %v", err)
	}
}

// A header whose Commit is larger than SQLite's largest page count
// (0xFFFFFFFE) is rejected, by ParsedHeader and by Index.
func TestRegressHeaderCommitTooLarge(t *testing.T) {
	good := encodeLTX(t, 3, 512, 4)
	for _, commit := range []uint32{0xFFFFFFFE, 0xFFFFFFFF} {
		// A level-0 file: it need not hold every page of its database.
		f := ltxmutate.File{Header: good.header(t)}
		f.Header.MinTXID, f.Header.MaxTXID, f.Header.Commit = 2, 2, commit
		f.Pages = []ltxmutate.Page{{Pgno: 1, Data: good.pages[1]}}
		r, file, _, err := indexOf(t, ltxmutate.Encode(f))
		if commit == 0xFFFFFFFE {
			if err != nil {
				t.Errorf("Commit %#x (the largest SQLite allows): %v", commit, err)
			}
			continue
		}
		wantCorrupt(t, err, "more than SQLite allows")
		_, err = r.ParsedHeader(context.Background(), file)
		wantCorrupt(t, err, "more than SQLite allows")
	}
}

// Reads with a negative offset or length fail without a request (and
// without the panic make([]byte, negative) used to cause).
func TestRegressReadAtNegativeRange(t *testing.T) {
	good := encodeLTX(t, 4, 512, 4)
	dir := t.TempDir()
	put(t, dir, good.info, good.data)
	st := &countingStore{Backend: openDir(t, dir).Store}
	r := replica.New(st)
	r.Retry = fastRetry
	f := listAll(t, r)[0]
	for _, rg := range [][2]int64{{-1, 10}, {0, -5}, {math.MinInt64, 1}, {10, math.MinInt64}} {
		func() {
			defer func() {
				if p := recover(); p != nil {
					t.Errorf("ReadAt(%d, %d) panicked: %v", rg[0], rg[1], p)
				}
			}()
			if b, err := r.ReadAt(context.Background(), f, rg[0], rg[1]); err == nil {
				t.Errorf("ReadAt(%d, %d) = %d bytes, want an error", rg[0], rg[1], len(b))
			}
		}()
	}
	if n := st.reads.Load(); n != 0 {
		t.Errorf("%d requests for invalid ranges, want none", n)
	}
}

// wholeReads counts the requests for whole files.
type wholeReads struct {
	storage.Backend
	started atomic.Int64 // whole-file reads requested
}

func (s *wholeReads) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	if off == 0 && length == f.Size {
		s.started.Add(1)
	}
	return s.Backend.ReadRange(ctx, f, off, length)
}

// Restore's prefetch keeps at most Parallel files downloaded ahead of the
// one being applied: while the apply is stalled, downloads stop. Before the
// fix a download's slot was freed when it finished, not when it was
// applied, so a slow apply let every small file of the plan pile up in
// memory.
func TestRegressRestorePrefetchBounded(t *testing.T) {
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"))
	w.Exec(`create table t(id integer primary key, v text)`)
	const commits = 20
	for i := range commits {
		w.Exec(`insert into t(v) values (?)`, strings.Repeat("x", 100+i))
	}

	st := &wholeReads{Backend: store}
	r := replica.New(st)
	r.Retry = fastRetry
	ctx := context.Background()
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != commits+1 {
		t.Fatalf("plan has %d files, want %d", len(plan.Files), commits+1)
	}
	out, err := os.Create(filepath.Join(dir, "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()

	const par = 3
	var applied int
	var mu sync.Mutex
	var worst int64
	progress := func(done, total int64) {
		mu.Lock()
		defer mu.Unlock()
		applied++
		if applied == 2 || applied == 10 {
			// Stall the apply: downloads that may run ahead get the time
			// to do so.
			time.Sleep(100 * time.Millisecond)
		}
		// Files requested but not applied, the one about to be applied
		// included; the slot of the file just applied is already free.
		worst = max(worst, st.started.Load()-int64(applied))
	}
	if err := r.Restore(ctx, plan, out, replica.RestoreOptions{Parallel: par, Progress: progress}); err != nil {
		t.Fatal(err)
	}
	if worst > par {
		t.Errorf("up to %d files downloaded ahead of the apply, want at most %d (Parallel)", worst, par)
	}
	if n := st.started.Load(); n != int64(len(plan.Files)) {
		t.Errorf("%d whole-file reads, want %d (one per planned file)", n, len(plan.Files))
	}
	db := openDB(t, out.Name())
	checkIntegrity(t, db, out.Name())
	var n int
	if err := db.QueryRow(`select count(*) from t`).Scan(&n); err != nil || n != commits {
		t.Errorf("restored table has %d rows (%v), want %d", n, err, commits)
	}
}

// A restore whose context is cancelled returns at once: it used to wait
// forever to free the place of a download that was never started. The
// plan has more files than the downloads allowed ahead (8), as the bug
// needs: the fixture's level-0 chain, one file per TXID.
func TestRegressRestoreCancelledReturns(t *testing.T) {
	r := fixtureReplica(t)
	plan := level0Plan(t, r)
	if len(plan.Files) <= 8 {
		t.Fatalf("the level-0 plan has %d files, want more than 8", len(plan.Files))
	}
	for i := range 200 {
		ctx, cancel := context.WithCancel(context.Background())
		cancel()
		f, err := os.Create(filepath.Join(t.TempDir(), "out.db"))
		if err != nil {
			t.Fatal(err)
		}
		done := make(chan error, 1)
		go func() { done <- r.Restore(ctx, plan, f, replica.RestoreOptions{}) }()
		select {
		case err := <-done:
			if err == nil {
				t.Fatalf("iteration %d: Restore with a cancelled context succeeded", i)
			}
		case <-time.After(5 * time.Second):
			t.Fatalf("iteration %d: Restore with a cancelled context hangs", i)
		}
		f.Close()
	}
}
