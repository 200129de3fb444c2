package engine

import (
	"context"
	"testing"
	"time"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
)

// A restore that stops halfway (the process closes the replica, or dies)
// resumes where it stopped: the next one downloads only the planned files
// the sidecar does not record as applied.
func TestHydrationInterruptedRestoreResumes(t *testing.T) {
	e := newHydrateEnv(t, 50)
	for range 12 {
		// Files too large to be read whole when indexed: only the
		// restore reads them whole, so whole reads count its downloads.
		e.w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 50)
			insert into t(v) select randomblob(3000) from n`)
	}
	files, err := e.store.Backend.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	const stopAt = 8 // the restore stops before the file of this TXID
	var total, before, indexed int64
	for _, f := range files {
		total += f.Size
		if f.MinTXID < stopAt {
			before += f.Size
		}
		if f.Size <= 64<<10 {
			indexed += f.Size // small: read whole by the open's indexing
		}
	}
	release := make(chan struct{})
	defer close(release)
	e.store.setGate(func(f storage.FileInfo, off, length int64) <-chan struct{} {
		if f.MinTXID >= stopAt && off == 0 && length == f.Size {
			return release // the restore's download, not the open's index reads
		}
		return nil
	})
	db := e.open()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		p := db.Hydration()
		return p.Bytes == before, "progress " + p.JSON()
	})
	db.Close()
	st, _, err := hydrate.ReadState(e.path)
	if err != nil {
		t.Fatal(err)
	}
	if st.Phase != hydrate.Restoring || st.Applied != stopAt-1 {
		t.Fatalf("sidecar after the interruption: %s with %d of %d files applied, want restoring with %d", st.Phase, st.Applied, len(st.Plan), stopAt-1)
	}

	e.store.setGate(nil)
	start := e.store.counts()
	db = e.open()
	waitHydrated(t, db)
	e.expectFile(e.image(), e.w.TXID())
	got := e.store.counts().sub(start)
	t.Logf("plan of %d files, %d bytes; %d bytes applied before the interruption; the resumed restore downloaded %d bytes",
		len(files), total, before, got.whole)
	if got.whole != total-before+indexed {
		t.Errorf("the reopen read %d bytes of files whole, want the %d bytes not applied before (and %d of small files indexed whole)", got.whole, total-before, indexed)
	}
	if p := db.Hydration(); p.Downloaded != total-before || p.Bytes != total {
		t.Errorf("progress %s: want %d bytes downloaded of %d", p.JSON(), total-before, total)
	}
}
