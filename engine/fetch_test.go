package engine

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

// A damaged frame next to the requested page in a read-ahead batch fails
// only the damaged page: the requested one is fetched alone and returned,
// and the neighbours after the damaged one still read.
func TestFetchDamagedNeighbourFailsOnlyItself(t *testing.T) {
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
