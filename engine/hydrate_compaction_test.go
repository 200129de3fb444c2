package engine

import (
	"context"
	"testing"
)

// Compaction between the file's state and the latest does not break the
// catch-up: files merged into level 1 are applied instead of the deleted
// level-0 files, while running and after a restart; when nothing chains
// from the file's TXID any more (everything merged into a snapshot), the
// file is restored anew from it rather than failing.
func TestHydrationCatchUpAcrossCompaction(t *testing.T) {
	commit3 := func(e *hydrateEnv) {
		for i := range 3 {
			e.w.Exec(`update t set v = randomblob(200) where id = ?`, i+1)
		}
	}
	t.Run("merged into level 1 while running", func(t *testing.T) {
		e := newHydrateEnv(t, 100)
		db := e.open()
		waitHydrated(t, db)
		from := e.w.TXID()
		commit3(e)
		e.w.Compact(1, from+1, e.w.TXID())
		e.w.Delete(0, from+1, e.w.TXID())
		if err := db.Poll(context.Background()); err != nil {
			t.Fatal(err)
		}
		waitHydrated(t, db)
		e.expectFile(e.image(), e.w.TXID())
	})
	t.Run("merged into level 1 before a restart", func(t *testing.T) {
		e := newHydrateEnv(t, 100)
		db := e.open()
		waitHydrated(t, db)
		db.Close()
		from := e.w.TXID()
		commit3(e)
		l1 := e.w.Compact(1, from+1, e.w.TXID())
		e.w.Delete(0, from+1, e.w.TXID())
		db = e.open()
		waitHydrated(t, db)
		e.expectFile(e.image(), e.w.TXID())
		if d := db.Hydration().Downloaded; d > l1.Size {
			t.Errorf("catching up downloaded %d bytes; the level-1 file is %d", d, l1.Size)
		}
	})
	t.Run("merged into a snapshot before a restart", func(t *testing.T) {
		e := newHydrateEnv(t, 100)
		db := e.open()
		waitHydrated(t, db)
		db.Close()
		commit3(e)
		e.w.Compact(9, 1, e.w.TXID())
		e.w.Delete(0, 1, e.w.TXID())
		db = e.open()
		waitHydrated(t, db)
		e.expectFile(e.image(), e.w.TXID())
		readAll(t, db, db.Latest(), e.image())
	})
}
