package engine

import (
	"context"
	"io"
	"math"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// slowStore counts range reads and makes each take a while, so that
// concurrent readers of one page really overlap.
type slowStore struct {
	storage.Backend
	reads atomic.Int64
	delay time.Duration
}

func (s *slowStore) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	s.reads.Add(1)
	time.Sleep(s.delay)
	return s.Backend.ReadRange(ctx, f, off, length)
}

// bigReplica writes a replica whose second file is too large to be read
// whole at index time (so its pages are fetched by range reads).
func bigReplica(t *testing.T) (store *filestore.Store, image []byte) {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "local.db")
	w := ltxtest.NewWriter(t, store, local)
	w.Exec(`create table t(id integer primary key, v blob)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 60)
		insert into t(v) select randomblob(3000) from n`)
	if image, err = os.ReadFile(local); err != nil {
		t.Fatal(err)
	}
	return store, image
}

// Readers that miss the same page at once make one request between them:
// the others wait for the first one's fetch.
func TestCacheFetchesAPageOnceForConcurrentReaders(t *testing.T) {
	store, image := bigReplica(t)
	slow := &slowStore{Backend: store, delay: 50 * time.Millisecond}
	db, err := OpenStore(context.Background(), slow, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v := db.Latest()
	pgno := v.commit - 1
	before := slow.reads.Load()
	var wg sync.WaitGroup
	pages := make([][]byte, 8)
	for i := range pages {
		wg.Go(func() {
			p, err := db.page(context.Background(), v, pgno, 1, nil)
			if err != nil {
				t.Error(err)
			}
			pages[i] = p
		})
	}
	wg.Wait()
	if n := slow.reads.Load() - before; n != 1 {
		t.Errorf("8 concurrent readers of page %d made %d requests, want 1", pgno, n)
	}
	want := image[int64(pgno-1)*int64(v.pageSize) : int64(pgno)*int64(v.pageSize)]
	for i, p := range pages {
		if string(p) != string(want) {
			t.Errorf("reader %d got a wrong page", i)
		}
	}
}

// The cache holds pages, not the buffers they were decoded from: a page
// fetched in a read-ahead batch, or taken from a file read whole, keeps
// exactly one page of memory alive.
func TestCacheHoldsPagesNotDecodeBuffers(t *testing.T) {
	store, _ := bigReplica(t)
	db, err := OpenStore(context.Background(), store, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v := db.Latest()
	for pgno := uint32(1); pgno <= v.commit; pgno++ {
		if _, err := db.page(context.Background(), v, pgno, 64, nil); err != nil {
			t.Fatal(err)
		}
	}
	n := 0
	for _, k := range db.cache.lru.Keys() {
		p, _ := db.cache.lru.Peek(k)
		n++
		if cap(p) != int(v.pageSize) {
			t.Errorf("cached page %d of %v has capacity %d, want the page size %d", k.pgno, k.file, cap(p), v.pageSize)
		}
	}
	if n < int(v.commit)/2 {
		t.Fatalf("only %d of %d pages cached: the test checks nothing", n, v.commit)
	}
}

// The read-ahead window doubles while reads move forward, up to its cap,
// shrinks to a quarter on a jump, and ignores a re-read.
func TestReadAheadWindowFollowsTheScan(t *testing.T) {
	var r readAhead
	var got []int
	for pgno := uint32(10); pgno < 22; pgno++ {
		got = append(got, r.next(pgno))
	}
	want := []int{1, 2, 4, 8, 16, 32, 64, 128, 256, 256, 256, 256}
	for i := range want {
		if got[i] != want[i] {
			t.Fatalf("windows along a scan = %v, want %v", got, want)
		}
	}
	if w := r.next(21); w != 256 {
		t.Errorf("a re-read changed the window to %d", w)
	}
	if w := r.next(21 + nearGap); w != maxWindow {
		t.Errorf("a read %d pages ahead (still a scan) gave window %d", nearGap, w)
	}
	if w := r.next(5000); w != maxWindow/4 {
		t.Errorf("a jump gave window %d, want %d", w, maxWindow/4)
	}
	if w := r.next(100); w != maxWindow/16 {
		t.Errorf("a jump back gave window %d, want %d", w, maxWindow/16)
	}
}

// With ManageMemory, Go's soft memory limit is the open replicas' caches
// and page indexes plus the headroom, recounted as replicas open and
// close; with none open there is no limit.
func TestRegistrySetsTheMemoryLimit(t *testing.T) {
	if os.Getenv("GOMEMLIMIT") != "" {
		t.Fatal("GOMEMLIMIT is set: the registry leaves the limit alone then")
	}
	defer debug.SetMemoryLimit(debug.SetMemoryLimit(-1))
	store, _ := bigReplica(t)
	reg := Registry{ManageMemory: true}
	const cache = 8 << 20
	ctx := context.Background()
	db, err := reg.Acquire(ctx, "k", func(ctx context.Context, resized func()) (*Database, error) {
		return OpenStore(ctx, store, Options{PollInterval: time.Hour, CacheSize: cache, Resized: resized})
	})
	if err != nil {
		t.Fatal(err)
	}
	want := int64(cache) + int64(db.Latest().commit)*indexBytesPerPage + memoryHeadroom
	if got := debug.SetMemoryLimit(-1); got != want {
		t.Errorf("memory limit %d with one replica open, want %d", got, want)
	}
	reg.Release("k", db)
	if got := debug.SetMemoryLimit(-1); got != math.MaxInt64 {
		t.Errorf("memory limit %d with no replica open, want none", got)
	}
}

// Opening, reading and closing a replica ten times leaves no goroutine
// behind: every goroutine has an owner that stops it.
func TestOpenCloseLeavesNoGoroutines(t *testing.T) {
	store, _ := bigReplica(t)
	cycle := func() {
		db, err := OpenStore(context.Background(), store, Options{PollInterval: 10 * time.Millisecond})
		if err != nil {
			t.Fatal(err)
		}
		r := db.NewReader(func() bool { return false })
		v := db.Latest()
		for pgno := uint32(1); pgno <= v.commit; pgno++ {
			if _, _, err := r.Read(context.Background(), v, pgno); err != nil {
				t.Fatal(err)
			}
		}
		time.Sleep(20 * time.Millisecond) // a poll or two
		db.Close()
	}
	cycle() // warm up lazily started runtime goroutines
	before := runtime.NumGoroutine()
	for range 10 {
		cycle()
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if after := runtime.NumGoroutine(); after > before {
		buf := make([]byte, 1<<16)
		t.Errorf("%d goroutines before 10 open/close cycles, %d after:\n%s", before, after, buf[:runtime.Stack(buf, true)])
	}
}
