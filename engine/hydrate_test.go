package engine

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/replica"
)

// Hydration restores the whole database into the file in the background;
// once it is complete, reads come from the file: a full scan makes no
// request to storage. The file is the database, byte for byte, and plain
// SQLite opens it read-only.
func TestHydrationCompletesAndServesReads(t *testing.T) {
	e := newHydrateEnv(t, 300)
	db := e.open()
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())

	before := e.store.counts()
	readAll(t, db, db.Latest(), e.image())
	if got := e.store.counts().sub(before); got.reads != 0 {
		t.Errorf("a full scan of the hydrated database made %d range reads, want 0", got.reads)
	}
	p := db.Hydration()
	if p.State != HydrationComplete || p.Percent != 100 || p.TXID != e.w.TXID() || p.Reads == 0 {
		t.Errorf("progress %s: want complete, 100%%, TXID %s, reads served", p.JSON(), e.w.TXID())
	}
	if p.Bytes == 0 || p.Bytes != p.Total {
		t.Errorf("progress %s: want all of the plan's bytes applied", p.JSON())
	}

	sdb, err := sql.Open("sqlite3", "file:"+e.path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer sdb.Close()
	var check string
	var n int
	if err := sdb.QueryRow(`select (select count(*) from t), (select * from pragma_integrity_check)`).Scan(&n, &check); err != nil {
		t.Fatalf("plain SQLite on the hydrated file: %v", err)
	}
	if n != 300 || check != "ok" {
		t.Errorf("plain SQLite on the hydrated file: %d rows, integrity %q; want 300, ok", n, check)
	}
}

// New commits reach the file: the poller's new pages come from the cache
// (the poller read the small new files whole), so catching up downloads
// nothing more.
func TestHydrationCatchesUpWithNewCommits(t *testing.T) {
	e := newHydrateEnv(t, 200)
	db := e.open()
	waitHydrated(t, db)
	for i := range 3 {
		e.w.Exec(`update t set v = randomblob(100) where id = ?`, 10*i+1)
		e.w.Exec(`insert into t(v) values (randomblob(5000))`)
	}
	downloaded := db.Hydration().Downloaded
	if err := db.Poll(context.Background()); err != nil {
		t.Fatal(err)
	}
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())
	if got := db.Hydration().Downloaded - downloaded; got != 0 {
		t.Errorf("catching up downloaded %d bytes; the new pages were in the cache", got)
	}
	before := e.store.counts()
	readAll(t, db, db.Latest(), e.image())
	if got := e.store.counts().sub(before); got.reads != 0 {
		t.Errorf("a full scan after the catch-up made %d range reads, want 0", got.reads)
	}
}

// After a restart the file is caught up, not restored again: with one new
// commit, the hydrator fetches at most that file, and the whole restart
// (the open's own indexing included) reads a small part of the database.
func TestHydrationRestartCatchesUpOnly(t *testing.T) {
	e := newHydrateEnv(t, 300)
	db := e.open()
	waitHydrated(t, db)
	db.Close()
	f := e.w.Exec(`update t set v = randomblob(2000) where id = 42`)

	before := e.store.counts()
	db = e.open()
	waitHydrated(t, db)
	got := e.store.counts().sub(before)
	e.expectFile(e.image(), e.w.TXID())
	size := int64(len(e.image()))
	t.Logf("restart with 1 new file (%d bytes) of a %d-byte database: %d range reads, %d bytes, %d listings; hydration downloaded %d bytes",
		f.Size, size, got.reads, got.bytes, got.lists, db.Hydration().Downloaded)
	if d := db.Hydration().Downloaded; d > f.Size {
		t.Errorf("the hydrator downloaded %d bytes, more than the one new file (%d bytes)", d, f.Size)
	}
	if got.bytes > size/8 {
		t.Errorf("the restart read %d bytes of a %d-byte database: it should read about the new file and page indexes", got.bytes, size)
	}
	before = e.store.counts()
	readAll(t, db, db.Latest(), e.image())
	if got := e.store.counts().sub(before); got.reads != 0 {
		t.Errorf("a full scan after the restart made %d range reads, want 0", got.reads)
	}
}

// A file that another replica hydrated is refused, and so is a file that
// is not strata's; neither is touched.
func TestHydrationRefusesOtherFiles(t *testing.T) {
	a := newHydrateEnv(t, 10)
	dbA := a.open()
	waitHydrated(t, dbA)
	dbA.Close()

	b := newHydrateEnv(t, 10)
	dbB, err := OpenStore(context.Background(), b.store, Options{PollInterval: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer dbB.Close()
	if err := dbB.Hydrate(a.path); !errorIs(err, hydrate.ErrOtherReplica) {
		t.Errorf("hydrating replica B into A's file: %v, want ErrOtherReplica", err)
	}
	a.expectFile(a.image(), a.w.TXID())

	foreign := filepath.Join(t.TempDir(), "mine.db")
	if err := os.WriteFile(foreign, []byte("my own data"), 0o644); err != nil {
		t.Fatal(err)
	}
	if err := dbB.Hydrate(foreign); !errorIs(err, hydrate.ErrForeign) {
		t.Errorf("hydrating into a file that is not strata's: %v, want ErrForeign", err)
	}
	if got, _ := os.ReadFile(foreign); string(got) != "my own data" {
		t.Errorf("the foreign file was changed: %q", got)
	}
	if p := dbB.Hydration(); p.State != HydrationOff {
		t.Errorf("progress after refusals: %s, want off", p.JSON())
	}
}

// time travel: a past view reads its own state while the file is at the
// latest: unchanged pages from the file, the others remotely; the latest
// view then reads all from the file again.
func TestHydrationTimeTravel(t *testing.T) {
	e := newHydrateEnv(t, 200)
	past, pastImage := e.w.TXID(), e.image()
	e.w.Exec(`update t set v = randomblob(10) where id <= 50`)
	db := e.open()
	waitHydrated(t, db)
	v, err := db.At(context.Background(), replica.AtTXID(past))
	if err != nil {
		t.Fatal(err)
	}
	before := db.Hydration().Reads
	readAll(t, db, v, pastImage)
	if db.Hydration().Reads == before {
		t.Error("the past view read nothing from the file, though most pages did not change")
	}
	before2 := e.store.counts()
	readAll(t, db, db.Latest(), e.image())
	if got := e.store.counts().sub(before2); got.reads != 0 {
		t.Errorf("back at the latest state, a full scan made %d range reads, want 0", got.reads)
	}
}

// Hydration asked for after the open (by a later connection) starts then;
// asking again for the same file is a no-op, for another file an error.
func TestHydrationEnabledAfterTheOpen(t *testing.T) {
	e := newHydrateEnv(t, 100)
	db, err := OpenStore(context.Background(), e.store, Options{PollInterval: 1 << 62})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if p := db.Hydration(); p.State != HydrationOff {
		t.Errorf("before Hydrate: %s", p.JSON())
	}
	if err := db.Hydrate(e.path); err != nil {
		t.Fatal(err)
	}
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())
	if err := db.Hydrate(e.path); err != nil {
		t.Errorf("hydrating again into the same file: %v", err)
	}
	if err := db.Hydrate(e.path + "2"); err == nil {
		t.Error("hydrating into a second file succeeded")
	}
}

// The restore that starts with the open does not download again the small
// files the open read whole: their current pages come from the cache.
func TestHydrationRestoreTakesCachedPages(t *testing.T) {
	e := newHydrateEnv(t, 300)
	for i := range 20 {
		e.w.Exec(`update t set v = randomblob(500) where id = ?`, 10*i+1)
	}
	files, err := e.store.Backend.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	var total, small int64
	for _, f := range files {
		total += f.Size
		if f.Size <= 64<<10 {
			small += f.Size
		}
	}
	db := e.open()
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())
	p := db.Hydration()
	t.Logf("%d files, %d bytes (%d in small files); the restore downloaded %d bytes; %d bytes read whole in all",
		len(files), total, small, p.Downloaded, e.store.whole.Load())
	if p.Downloaded > total-small+files[0].Size {
		t.Errorf("the restore downloaded %d bytes; all but the first of the small files (%d of %d bytes) were in the cache", p.Downloaded, small, total)
	}
	// The plan's first file is always downloaded (while the open still
	// indexes the others); it is small here, so the open read it too.
	if got, want := e.store.whole.Load(), total+files[0].Size; got != want {
		t.Errorf("%d bytes read whole, want each file once and the first twice (%d)", got, want)
	}
	readAll(t, db, db.Latest(), e.image())
}
