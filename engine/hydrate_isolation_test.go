package engine

import (
	"context"
	"testing"
)

// A transaction that pinned a view keeps reading that state while the
// file advances past it: the pages the update overwrote were kept in the
// cache under their old versions, the others still come from the file,
// so it reads its state without a request to storage.
func TestHydrationPinnedViewKeepsItsStateWhileTheFileAdvances(t *testing.T) {
	e := newHydrateEnv(t, 200)
	db := e.open()
	waitHydrated(t, db)
	db.BeginRead()
	pinned, pinnedImage := db.Latest(), e.image()

	// Large changes (files not read whole at index): the update downloads
	// them and overwrites pages the pinned view still needs.
	e.w.Exec(`update t set v = randomblob(3000) where id % 3 = 0`)
	e.w.Exec(`delete from t where id % 5 = 0`)
	if err := db.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())

	before := e.store.counts()
	readAll(t, db, pinned, pinnedImage)
	if got := e.store.counts().sub(before); got.reads != 0 {
		t.Errorf("the pinned view made %d range reads after the file advanced, want 0 (old versions kept in the cache)", got.reads)
	}
	db.EndRead()
	before = e.store.counts()
	readAll(t, db, db.Latest(), e.image())
	if got := e.store.counts().sub(before); got.reads != 0 {
		t.Errorf("the latest view made %d range reads, want 0", got.reads)
	}
}

// A commit that shrinks the database (VACUUM) truncates the file, and a
// later growth reads as the database does.
func TestHydrationShrinkTruncates(t *testing.T) {
	e := newHydrateEnv(t, 300)
	db := e.open()
	waitHydrated(t, db)
	big := len(e.image())
	e.w.Exec(`delete from t where id > 20`)
	e.w.Exec(`vacuum`)
	if err := db.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHydrated(t, db)
	small := e.image()
	if len(small) >= big/4 {
		t.Fatalf("VACUUM left %d of %d bytes; the test needs a shrink", len(small), big)
	}
	e.expectFile(small, e.w.TXID())
	readAll(t, db, db.Latest(), small)

	e.w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 50)
		insert into t(v) select randomblob(1000) from n`)
	if err := db.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())
	readAll(t, db, db.Latest(), e.image())
}
