package engine

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"testing"
	"time"
)

// The writer's commits reach the hydrated file: committed pages go from
// the transaction to the cache and from there to the file, with nothing
// downloaded (sync=commit); commits stored later as one file (group
// commit) reach it once stored.
func TestHydrationFollowsTheWriter(t *testing.T) {
	for _, sync := range []time.Duration{0, time.Hour} {
		t.Run("sync="+syncName(sync), func(t *testing.T) {
			e := newHydrateEnv(t, 100)
			db := e.open()
			w, err := db.EnableWrites(WriteOptions{Dir: filepath.Join(t.TempDir(), "buffer"), Sync: sync})
			if err != nil {
				t.Fatal(err)
			}
			waitHydrated(t, db)
			image := e.image()
			ps := int(db.Latest().pageSize)
			downloaded := db.Hydration().Downloaded

			txn, err := w.Begin("conn", db.Latest())
			if err != nil {
				t.Fatal(err)
			}
			page := bytes.Repeat([]byte{0xAB}, ps)
			copy(image[ps:], page) // page 2
			if err := txn.WritePage(2, page); err != nil {
				t.Fatal(err)
			}
			v, err := txn.Commit(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			txn.End()
			readAll(t, db, v, image)
			if sync > 0 {
				if _, err := w.Sync(context.Background()); err != nil {
					t.Fatal(err)
				}
			}
			waitHydrated(t, db)
			got, err := os.ReadFile(e.path)
			if err != nil {
				t.Fatal(err)
			}
			if !bytes.Equal(got[ps:2*ps], page) {
				t.Error("the committed page is not in the hydrated file")
			}
			e.expectFile(got, storedView(db.Latest()).txid) // and the sidecar says so
			d := db.Hydration().Downloaded - downloaded
			if sync == 0 && d != 0 {
				t.Errorf("the commit's pages were downloaded again (%d bytes)", d)
			}
			before := e.store.counts()
			readAll(t, db, db.Latest(), image)
			if got := e.store.counts().sub(before); got.reads != 0 {
				t.Errorf("reading after the commit made %d range reads, want 0", got.reads)
			}
		})
	}
}
