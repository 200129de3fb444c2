package engine

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// countingStore counts what a replica's readers ask of storage: range
// reads, the bytes they return, listings. gate, when set, may hold a read
// until the channel it returns is closed (or the read's context ends).
type countingStore struct {
	storage.Backend
	reads, bytes, lists atomic.Int64
	whole               atomic.Int64 // bytes of the files read whole

	mu   sync.Mutex
	gate func(f storage.FileInfo, off, length int64) <-chan struct{}
}

func (s *countingStore) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	s.mu.Lock()
	gate := s.gate
	s.mu.Unlock()
	if gate != nil {
		if ch := gate(f, off, length); ch != nil {
			select {
			case <-ch:
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
	}
	s.reads.Add(1)
	if off == 0 && (length < 0 || length == f.Size) {
		s.whole.Add(f.Size)
	}
	rc, err := s.Backend.ReadRange(ctx, f, off, length)
	if err != nil {
		return nil, err
	}
	return &countingReader{rc, &s.bytes}, nil
}

func (s *countingStore) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	s.lists.Add(1)
	return s.Backend.List(ctx, level, from)
}

// WriteNew lets a writer use the store (the file backend creates files
// exclusively).
func (s *countingStore) WriteNew(ctx context.Context, f storage.FileInfo, ts time.Time, r io.Reader) error {
	return s.Backend.(storage.ExclusiveWriter).WriteNew(ctx, f, ts, r)
}

func (s *countingStore) setGate(gate func(f storage.FileInfo, off, length int64) <-chan struct{}) {
	s.mu.Lock()
	defer s.mu.Unlock()
	s.gate = gate
}

// requests is a snapshot of the counters.
type requests struct{ reads, bytes, lists, whole int64 }

func (s *countingStore) counts() requests {
	return requests{s.reads.Load(), s.bytes.Load(), s.lists.Load(), s.whole.Load()}
}

func (r requests) sub(o requests) requests {
	return requests{r.reads - o.reads, r.bytes - o.bytes, r.lists - o.lists, r.whole - o.whole}
}

type countingReader struct {
	io.ReadCloser
	n *atomic.Int64
}

func (r *countingReader) Read(p []byte) (int, error) {
	n, err := r.ReadCloser.Read(p)
	r.n.Add(int64(n))
	return n, err
}

// hydrateEnv is a replica written by an ltxtest writer, read through a
// counting store, and a path for its hydrated file.
type hydrateEnv struct {
	t     *testing.T
	w     *ltxtest.Writer
	local string // the writer's database: the state of w.TXID()
	store *countingStore
	path  string // the hydrated file
}

// newHydrateEnv makes a replica of rows rows of 3000 random bytes (about
// 0.75 pages each, incompressible: the snapshot is too large to be read
// whole when indexed).
func newHydrateEnv(t *testing.T, rows int) *hydrateEnv {
	t.Helper()
	dir := t.TempDir()
	fs, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	e := &hydrateEnv{t: t, local: filepath.Join(dir, "local.db"), store: &countingStore{Backend: fs}, path: filepath.Join(dir, "hydrated", "db")}
	e.w = ltxtest.NewWriter(t, fs, e.local)
	e.w.Exec(`create table t(id integer primary key, v blob)`)
	e.w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
		insert into t(v) select randomblob(3000) from n`, rows)
	return e
}

// open opens the replica hydrated (Options.Hydrate: the restore starts
// with the open); no polls unless the test calls Poll.
func (e *hydrateEnv) open() *Database {
	e.t.Helper()
	db, err := OpenStore(context.Background(), e.store, Options{PollInterval: time.Hour, Hydrate: e.path})
	if err != nil {
		e.t.Fatal(err)
	}
	e.t.Cleanup(func() { db.Close() })
	return db
}

// image is the database as the writer last committed it.
func (e *hydrateEnv) image() []byte {
	e.t.Helper()
	b, err := os.ReadFile(e.local)
	if err != nil {
		e.t.Fatal(err)
	}
	return b
}

// waitHydrated waits for the file to hold the latest state.
func waitHydrated(t *testing.T, db *Database) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	if err := db.WaitHydrated(ctx); err != nil {
		t.Fatal(err)
	}
}

// expectFile checks that the hydrated file is image, and that its sidecar
// says complete at txid.
func (e *hydrateEnv) expectFile(image []byte, txid ltx.TXID) {
	e.t.Helper()
	got, err := os.ReadFile(e.path)
	if err != nil {
		e.t.Fatal(err)
	}
	if !bytes.Equal(got, image) {
		e.t.Errorf("hydrated file (%d bytes) differs from the database at TXID %s (%d bytes)", len(got), txid, len(image))
	}
	st, ok, err := hydrate.ReadState(e.path)
	if err != nil || !ok {
		e.t.Fatalf("sidecar: %v (exists: %v)", err, ok)
	}
	if st.Phase != hydrate.Complete || st.TXID != txid {
		e.t.Errorf("sidecar says %s at TXID %s, want complete at %s", st.Phase, st.TXID, txid)
	}
}

// readAll reads every page of v through a reader and compares it with
// image (the database v should be).
func readAll(t *testing.T, db *Database, v *View, image []byte) {
	t.Helper()
	r := db.NewReader(nil)
	ps := int(v.pageSize)
	if len(image) != int(v.commit)*ps {
		t.Fatalf("view at TXID %s has %d pages, the database %d", v.txid, v.commit, len(image)/ps)
	}
	for pgno := uint32(1); pgno <= v.commit; pgno++ {
		page, _, err := r.Read(context.Background(), v, pgno)
		if err != nil {
			t.Fatalf("read page %d at TXID %s: %v", pgno, v.txid, err)
		}
		want := image[int(pgno-1)*ps : int(pgno)*ps]
		if page == nil {
			page = make([]byte, ps)
		}
		if !bytes.Equal(page, want) {
			t.Fatalf("page %d at TXID %s differs from the database", pgno, v.txid)
		}
	}
}

func errorIs(err, target error) bool { return err != nil && errors.Is(err, target) }
