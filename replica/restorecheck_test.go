package replica_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"strings"
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

// chain writes a replica of a real database: TXID 1 creates table t, each
// later TXID inserts rows. It returns the replica's directory.
func chain(t testing.TB, commits int) string {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"))
	w.Exec(`create table t(id integer primary key, v text)`)
	for i := 1; i < commits; i++ {
		w.Exec(`with recursive s(x) as (select 1 union all select x+1 from s where x < ?)
			insert into t(v) select printf('%0200d', x) from s`, 20*i)
	}
	return filepath.Join(dir, "replica")
}

// forge rewrites the LTX file at path with edit applied to it taken apart,
// with a valid checksum.
func forge(t testing.TB, path string, edit func(*ltxmutate.File)) {
	t.Helper()
	mutate(t, path, func(b []byte) []byte {
		f, err := ltxmutate.Decode(b)
		if err != nil {
			t.Fatal(err)
		}
		edit(&f)
		return ltxmutate.Encode(f)
	})
}

// wantCorruptFile checks that err is a *CorruptError naming f (level and
// TXIDs), in its message too.
func wantCorruptFile(t testing.TB, err error, f storage.FileInfo, what string) {
	t.Helper()
	var ce *replica.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("%s: got %v, want a *replica.CorruptError naming %s", what, err, f)
	}
	t.Logf("%s: %v", what, err)
	if ce.File.Key() != f.Key() || !strings.Contains(err.Error(), f.String()) {
		t.Errorf("%s: error %q names %s, want %s", what, err, ce.File, f)
	}
}

// A header whose Commit claims pages that no file holds is refused, with
// valid checksums everywhere: a snapshot claiming more pages (it used to
// restore to a sparse file of terabytes), a level-0 file that grows the
// database without its new pages, and one that says the database is
// smaller than page 1 records. Restore leaves nothing in its output.
func TestRestoreChecksCommitAgainstPages(t *testing.T) {
	tests := []struct {
		name  string
		level int
		txid  ltx.TXID
		edit  func(*ltxmutate.File)
	}{
		{"snapshot claiming 2^31 pages", 0, 1, func(f *ltxmutate.File) { f.Header.Commit = 1 << 31 }},
		{"snapshot missing its last page", 0, 1, func(f *ltxmutate.File) { f.Pages = f.Pages[:len(f.Pages)-1] }},
		{"snapshot missing a middle page", 0, 1, func(f *ltxmutate.File) {
			f.Pages = append(f.Pages[:1], f.Pages[2:]...)
		}},
		{"level 0 growing by 3 billion pages", 0, 4, func(f *ltxmutate.File) { f.Header.Commit = 3_000_000_000 }},
		{"level 0 growing by one page it lacks", 0, 4, func(f *ltxmutate.File) { f.Header.Commit++ }},
		{"level 0 without page 1, growing by pages it lacks", 0, 4, func(f *ltxmutate.File) {
			f.Pages = f.Pages[1:] // page 1 would tell by itself
			f.Header.Commit += 5
		}},
		{"level 0 shrinking below page 1's size", 0, 4, func(f *ltxmutate.File) {
			f.Header.Commit--
			if last := f.Pages[len(f.Pages)-1]; last.Pgno > f.Header.Commit {
				f.Pages = f.Pages[:len(f.Pages)-1]
			}
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := chain(t, 4)
			forge(t, fixtureFile(dir, tt.level, tt.txid), tt.edit)
			r := openDir(t, dir)
			bad := fileAt(t, listAll(t, r), tt.level, tt.txid, tt.txid)
			plan, err := r.Plan(context.Background(), replica.Latest())
			if err != nil {
				t.Fatal(err)
			}
			path, err := restoreFile(t, r, plan)
			wantCorruptFile(t, err, bad, "Restore")
			if st, err := os.Stat(path); err != nil || st.Size() != 0 {
				t.Errorf("Restore left %d bytes in its output (%v), want none", st.Size(), err)
			}
			// A file read whole is verified whole: the index path refuses
			// it too, or, when only the size before it can tell, the chain
			// check of a reader that builds its own page map.
			x, err := r.Index(context.Background(), bad)
			if err == nil {
				prev, herr := r.ParsedHeader(context.Background(), fileAt(t, listAll(t, r), 0, tt.txid-1, tt.txid-1))
				if herr != nil {
					t.Fatal(herr)
				}
				err = x.CheckAfter(prev.Commit)
			}
			wantCorruptFile(t, err, bad, "Index, then CheckAfter")
		})
	}
}

// cancelAfter cancels a context once n bytes have been read from its
// backend's streams.
type cancelAfter struct {
	storage.Backend
	n      int64
	cancel context.CancelFunc
	read   atomic.Int64
}

func (c *cancelAfter) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	rc, err := c.Backend.ReadRange(ctx, f, off, length)
	if err != nil {
		return nil, err
	}
	return struct {
		io.Reader
		io.Closer
	}{readerFunc(func(p []byte) (int, error) {
		n, err := rc.Read(p)
		if c.read.Add(int64(n)) >= c.n {
			c.cancel()
		}
		return n, err
	}), rc}, nil
}

type readerFunc func([]byte) (int, error)

func (f readerFunc) Read(p []byte) (int, error) { return f(p) }

// Cancelling a restore while it applies a large file (streamed from a
// directory, whose reads never look at the context) stops it within a
// few pages: the error matches context.Canceled, is not a CorruptError,
// and the output is left empty.
func TestRestoreStopsWhenCancelled(t *testing.T) {
	big := encodeLTX(t, 9, 65536, 400) // about 26 MB: streamed, not prefetched
	dir := t.TempDir()
	put(t, dir, big.info, big.data)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	st := &cancelAfter{Backend: openDir(t, dir).Store, n: 2 << 20, cancel: cancel}
	r := replica.New(st)
	out, err := os.Create(filepath.Join(t.TempDir(), "out.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	start := time.Now()
	err = r.Restore(ctx, replica.Plan{Files: []storage.FileInfo{big.info}, TXID: 1}, out, replica.RestoreOptions{})
	var ce *replica.CorruptError
	switch {
	case !errors.Is(err, context.Canceled):
		t.Fatalf("Restore: %v, want an error matching context.Canceled", err)
	case errors.As(err, &ce):
		t.Errorf("Restore: an interruption reported as corruption: %v", err)
	}
	if n := st.read.Load(); n > 8<<20 {
		t.Errorf("Restore read %d MiB after being cancelled at 2 MiB", n>>20)
	}
	if st, err := out.Stat(); err != nil || st.Size() != 0 {
		t.Errorf("the cancelled restore left %d bytes in its output (%v)", st.Size(), err)
	}
	t.Logf("cancelled after %s: %v", time.Since(start).Round(time.Millisecond), err)
}

// Restore refuses a chain whose page size changes in a file that is not
// a complete database.
func TestRestoreRefusesPageSizeChange(t *testing.T) {
	snap := encodeLTX(t, 5, 512, 4)
	f := ltxmutate.File{Header: snap.header(t)}
	f.Header.PageSize, f.Header.MinTXID, f.Header.MaxTXID, f.Header.Commit = 1024, 2, 2, 2
	f.Pages = []ltxmutate.Page{{Pgno: 2, Data: make([]byte, 1024)}}
	dir := t.TempDir()
	put(t, dir, snap.info, snap.data)
	next := storage.FileInfo{Level: 0, MinTXID: 2, MaxTXID: 2}
	put(t, dir, next, ltxmutate.Encode(f))
	r := openDir(t, dir)
	plan, err := r.Plan(context.Background(), replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	_, err = restoreFile(t, r, plan)
	wantCorruptFile(t, err, fileAt(t, plan.Files, 0, 2, 2), "Restore")
}

// CheckAfter, for readers that build their own page map from page
// indexes (range reads verify no checksum): a file that grows the
// database must hold the pages it adds, and one that changes its size
// must hold page 1.
func TestCheckAfter(t *testing.T) {
	file := func(minTXID ltx.TXID, commit uint32, pgnos ...uint32) *replica.FileIndex {
		x := &replica.FileIndex{
			URL:    "file:///replica",
			File:   storage.FileInfo{Level: 0, MinTXID: minTXID, MaxTXID: minTXID},
			Header: ltx.Header{PageSize: 4096, Commit: commit, MinTXID: minTXID, MaxTXID: minTXID},
		}
		for _, p := range pgnos {
			x.Frames = append(x.Frames, replica.Frame{Pgno: p})
		}
		return x
	}
	tests := []struct {
		name string
		x    *replica.FileIndex
		size uint32
		ok   bool
	}{
		{"complete database", file(1, 3, 1, 2, 3), 0, true},
		{"complete database missing a page", file(1, 3, 1, 3), 0, false},
		{"same size, any pages", file(5, 10, 4, 7), 10, true},
		{"grows with its new pages and page 1", file(5, 12, 1, 11, 12), 10, true},
		{"grows without a new page", file(5, 12, 1, 11), 10, false},
		{"grows by 3 billion pages", file(5, 3_000_000_000, 1, 11, 12), 10, false},
		{"shrinks with page 1", file(5, 8, 1), 10, true},
		{"shrinks without page 1", file(5, 8, 2), 10, false},
		{"grows past the lock page without it", file(5, 262146, 1, 262144, 262146), 262143, true},
	}
	for _, tt := range tests {
		err := tt.x.CheckAfter(tt.size)
		var ce *replica.CorruptError
		switch {
		case tt.ok && err != nil:
			t.Errorf("%s: %v", tt.name, err)
		case !tt.ok && !errors.As(err, &ce):
			t.Errorf("%s: %v, want a *replica.CorruptError", tt.name, err)
		}
	}
}
