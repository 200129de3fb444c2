package ltxtest_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// restoreBytes restores the replica at txid and returns the database bytes.
func restoreBytes(t *testing.T, r *replica.Replica, txid ltx.TXID) []byte {
	t.Helper()
	plan, err := r.Plan(context.Background(), replica.AtTXID(txid))
	if err != nil {
		t.Fatalf("plan TXID %s: %v", txid, err)
	}
	f, err := os.Create(filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := r.Restore(context.Background(), plan, f, replica.RestoreOptions{}); err != nil {
		t.Fatalf("restore TXID %s: %v", txid, err)
	}
	b, err := os.ReadFile(f.Name())
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// Every uploaded TXID restores to exactly the bytes the local database had
// when it was committed: growth, updates, and a VACUUM that shrinks it.
func TestWriterUploadsEveryState(t *testing.T) {
	for _, level := range []int{0, 9} {
		t.Run(fmt.Sprintf("snapshot at L%d", level), func(t *testing.T) {
			dir := t.TempDir()
			store, _ := filestore.New(filepath.Join(dir, "replica"))
			local := filepath.Join(dir, "local.db")
			clock := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
			w := ltxtest.NewWriter(t, store, local, ltxtest.SnapshotLevel(level),
				ltxtest.Clock(func() time.Time { clock = clock.Add(time.Minute); return clock }))

			images := map[ltx.TXID][]byte{}
			keep := func(f storage.FileInfo) {
				t.Helper()
				b, err := os.ReadFile(local)
				if err != nil {
					t.Fatal(err)
				}
				images[f.MaxTXID] = b
			}
			if _, err := w.DB().Exec(`create table t(id integer primary key, v text)`); err != nil {
				t.Fatal(err)
			}
			f := w.Snapshot()
			if f.Level != level || f.MinTXID != 1 || f.MaxTXID != 1 {
				t.Fatalf("Snapshot wrote %s, want L%d/[1-1]", f, level)
			}
			keep(f)
			for i := range 5 {
				keep(w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 100)
					insert into t(v) select hex(randomblob(500)) || ? from n`, i))
			}
			keep(w.Exec(`update t set v = 'x' where id % 7 = 0`))
			w.Exec(`delete from t where id > 50`)
			keep(w.Exec(`vacuum`))
			if got := w.TXID(); got != 9 {
				t.Fatalf("TXID = %s, want 9", got)
			}

			r := replica.New(store)
			for txid, want := range images {
				if got := restoreBytes(t, r, txid); !bytes.Equal(got, want) {
					t.Errorf("TXID %s: restored %d bytes differ from the local database's %d", txid, len(got), len(want))
				}
			}
			if len(images[9]) >= len(images[7]) {
				t.Errorf("VACUUM did not shrink the database (%d -> %d bytes)", len(images[7]), len(images[9]))
			}

			// Header timestamps come from the clock, one minute apart.
			x, err := r.Index(context.Background(), fileAt(t, store, 0, 3))
			if err != nil {
				t.Fatal(err)
			}
			if got, want := time.UnixMilli(x.Header.Timestamp).UTC(), time.Date(2026, 1, 1, 0, 3, 0, 0, time.UTC); !got.Equal(want) {
				t.Errorf("TXID 3 timestamp = %s, want %s", got, want)
			}
		})
	}
}

func fileAt(t *testing.T, store storage.Backend, level int, txid ltx.TXID) storage.FileInfo {
	t.Helper()
	files, err := store.List(context.Background(), level, txid)
	if err != nil || len(files) == 0 || files[0].MinTXID != txid {
		t.Fatalf("no L%d file at TXID %s: %v %v", level, txid, files, err)
	}
	return files[0]
}

// A compacted file holds the newest version of every page of its range:
// restoring through it (level-0 files deleted) gives the same database.
func TestCompactAndDelete(t *testing.T) {
	dir := t.TempDir()
	store, _ := filestore.New(filepath.Join(dir, "replica"))
	local := filepath.Join(dir, "local.db")
	w := ltxtest.NewWriter(t, store, local)
	w.Exec(`create table t(id integer primary key, v text)`)
	for i := range 6 {
		w.Exec(`insert into t(v) values (?)`, fmt.Sprint(i))
	}
	want, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}

	l1 := w.Compact(1, 2, 5)
	if l1.Level != 1 || l1.MinTXID != 2 || l1.MaxTXID != 5 {
		t.Fatalf("Compact wrote %s, want L1/[2-5]", l1)
	}
	if del := w.Delete(0, 2, 5); len(del) != 4 {
		t.Fatalf("Delete removed %d files, want 4", len(del))
	}
	r := replica.New(store)
	plan, err := r.Plan(context.Background(), replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 4 || plan.Files[1].Key() != l1.Key() {
		t.Errorf("plan = %v, want L0/1, %s, L0/6, L0/7", plan.Files, l1)
	}
	if got := restoreBytes(t, r, 7); !bytes.Equal(got, want) {
		t.Error("restore through the compacted file differs from the local database")
	}

	// L2 over the L1 file and a level-0 file; a full-range compaction
	// from TXID 1 is a snapshot.
	if f := w.Compact(2, 2, 7); f.MaxTXID != 7 {
		t.Fatalf("Compact(2, 2, 7) = %s", f)
	}
	w.Compact(9, 1, 7)
	w.Delete(0, 1, 7)
	w.Delete(1, 1, 7)
	w.Delete(2, 1, 7)
	if got := restoreBytes(t, r, 7); !bytes.Equal(got, want) {
		t.Error("restore from the compacted snapshot differs from the local database")
	}

	if _, err := w.TryCompact(1, 3, 9); err == nil {
		t.Error("compacting TXIDs that do not exist succeeded")
	}
}
