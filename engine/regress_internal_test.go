package engine

// Regression tests (internal) for bugs found in review: each fails on the
// code before the fix.

import (
	"context"
	"encoding/binary"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
)

// A view whose size is near SQLite's limit (2^32 - 2 pages, or one more
// in a header no check has rejected) shrinks in time and keeps the pages
// below the new size. The page-by-page loop of old wrapped its uint32 page
// number around past the last chunk: it ran for billions of iterations,
// started over at page 1 and dropped pages below the new size (and with
// Commit 0xFFFFFFFF never ended).
func TestRegressTruncateNearMaxPages(t *testing.T) {
	for _, commit := range []uint32{0xFFFFFFFE, 0xFFFFFFFF} {
		big := ltxFile(0, 1, 1, commit, 1, 2, commit)
		shrink := ltxFile(0, 2, 2, 2, 1)
		type result struct {
			v   *View
			err error
		}
		done := make(chan result, 1)
		go func() {
			v, err := (&View{}).apply(sourcesOf([]*replica.FileIndex{big}))
			if err == nil {
				v, err = v.apply(sourcesOf([]*replica.FileIndex{shrink}))
			}
			done <- result{v, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Commit %#x: shrinking to 2 pages did not end within 5s", commit)
		}
		if r.err != nil {
			t.Fatalf("Commit %#x: %v", commit, r.err)
		}
		if r.v.commit != 2 {
			t.Errorf("Commit %#x: view has %d pages after the shrink, want 2", commit, r.v.commit)
		}
		expectPages(t, "after the shrink", r.v, map[uint32]*replica.FileIndex{1: shrink, 2: big})
		for c, chunk := range r.v.chunks[1:] {
			if chunk != nil {
				t.Fatalf("Commit %#x: chunk %d, above the new size, is still there", commit, c+1)
			}
		}
	}
}

// A damaged frame next to the requested page in a read-ahead batch fails
// only the damaged page: the requested one is fetched alone and returned,
// and the neighbours after the damaged one still read.
func TestRegressCorruptNeighbourFrame(t *testing.T) {
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "local.db")
	w := ltxtest.NewWriter(t, store, local)
	w.Exec(`create table t(id integer primary key, v blob)`) // 1
	// 2: ~40 pages of incompressible data, so the file is too large to be
	// read whole (and its pages warmed) when it is indexed.
	f := w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 40)
		insert into t(v) select randomblob(3000) from n`)
	image, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}

	ctx := context.Background()
	x, err := replica.New(store).Index(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Frames) < 10 {
		t.Fatalf("TXID 2 holds %d pages, want at least 10", len(x.Frames))
	}
	want, bad, after := x.Frames[4], x.Frames[5], x.Frames[6]
	if bad.Pgno != want.Pgno+1 || bad.Offset != want.Offset+int64(want.Size) {
		t.Fatalf("frames of pages %d and %d are not adjacent", want.Pgno, bad.Pgno)
	}
	// The damaged frame claims to hold another page.
	path := filepath.Join(store.Dir(), "ltx", "0", f.Name())
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	binary.BigEndian.PutUint32(data[bad.Offset:], bad.Pgno+1000)
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}

	db, err := Open(ctx, "file://"+store.Dir(), Options{PollInterval: time.Hour, CacheSize: 1 << 20})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	v := db.Latest()
	if loc := v.lookup(want.Pgno); loc.src == nil || loc.src.key() != f.Key() {
		t.Fatalf("page %d is not in %s", want.Pgno, f)
	}
	if db.cache.contains(pageKey{f.Key(), want.Pgno}) {
		t.Fatalf("page %d is cached before any read: the test would fetch nothing", want.Pgno)
	}

	page, err := db.page(ctx, v, want.Pgno, 8, nil)
	if err != nil {
		t.Fatalf("page %d with a damaged neighbour in its read-ahead: %v", want.Pgno, err)
	}
	ps := int64(v.pageSize)
	if string(page) != string(image[int64(want.Pgno-1)*ps:int64(want.Pgno)*ps]) {
		t.Errorf("page %d differs from the local database", want.Pgno)
	}
	if _, err := db.page(ctx, v, bad.Pgno, 1, nil); err == nil {
		t.Errorf("the damaged page %d read without an error", bad.Pgno)
	}
	page, err = db.page(ctx, v, after.Pgno, 8, nil)
	if err != nil {
		t.Fatalf("page %d after the damaged one: %v", after.Pgno, err)
	}
	if string(page) != string(image[int64(after.Pgno-1)*ps:int64(after.Pgno)*ps]) {
		t.Errorf("page %d differs from the local database", after.Pgno)
	}
}
