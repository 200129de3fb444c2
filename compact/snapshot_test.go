package compact_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// After each multiple of the snapshot interval (midnight UTC for 24 h) a
// snapshot of the last state committed before it is written to level 9;
// it restores to that state. A second pass writes no other.
func TestScheduledSnapshotAtTheBoundary(t *testing.T) {
	e := newEnv(t)
	c := e.compactor(compact.Config{})
	e.clock.Set(epoch.Add(24*time.Hour - 2*time.Minute))
	e.commits(12, 20*time.Second) // 23:58:20 ... 00:02:00 the next day
	before := e.w.TXID() - 7      // TXID 6, committed at 23:59:40, the last before midnight

	rep := pass(t, c)
	snaps := levelOf(e.files(), storage.SnapshotLevel)
	if len(snaps) != 1 || snaps[0].MinTXID != 1 || snaps[0].MaxTXID != before {
		t.Fatalf("snapshots %v (pass wrote %v), want one of TXID %s", names(snaps), names(written(rep)), before)
	}
	e.restoreEquals(t, snaps, before, t.TempDir())

	e.clock.Advance(time.Hour)
	if rep := pass(t, c); slices.ContainsFunc(rep.Merges, func(m compact.Merge) bool { return m.Output.Level == storage.SnapshotLevel }) {
		t.Errorf("a second pass on the same day wrote %v", rep.Merges)
	}
}

// Snapshot writes the latest state now, from the previous snapshot and the
// files after it; asked again, it says that snapshot exists.
func TestSnapshotNow(t *testing.T) {
	e := newEnv(t)
	c := e.compactor(compact.Config{})
	ctx := context.Background()
	e.commits(5, time.Second)
	first, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if first.Level != storage.SnapshotLevel || first.MinTXID != 1 || first.MaxTXID != e.w.TXID() || first.Size <= 0 {
		t.Fatalf("snapshot %+v, want L9 1-%s", first, e.w.TXID())
	}
	again, err := c.Snapshot(ctx)
	if !errors.Is(err, storage.ErrExists) || again.Key() != first.Key() {
		t.Fatalf("second Snapshot: %v, %v; want ErrExists and %s", again, err, first)
	}

	e.commits(5, time.Second)
	second, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if rep := pass(t, c); slices.ContainsFunc(rep.Merges, func(m compact.Merge) bool { return m.Output.Level == storage.SnapshotLevel }) {
		t.Errorf("the scheduled pass wrote a snapshot too: %v", rep.Merges)
	}
	e.restoreEquals(t, []storage.FileInfo{second}, second.MaxTXID, t.TempDir())
	e.restoreEquals(t, []storage.FileInfo{first}, first.MaxTXID, t.TempDir())
}

// An empty replica has nothing to snapshot, and says so; a replica that
// does not exist is not an empty one.
func TestSnapshotOfAnEmptyReplica(t *testing.T) {
	missing, err := filestore.New(filepath.Join(t.TempDir(), "missing"))
	if err != nil {
		t.Fatal(err)
	}
	if _, err := compact.New(replica.New(missing), compact.Config{}).Snapshot(context.Background()); !errors.Is(err, storage.ErrNoReplica) {
		t.Errorf("Snapshot of a replica that does not exist: %v, want ErrNoReplica", err)
	}
	dir := filepath.Join(t.TempDir(), "replica")
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	c := compact.New(replica.New(st), compact.Config{})
	if _, err := c.Snapshot(context.Background()); !errors.Is(err, replica.ErrEmpty) {
		t.Fatalf("Snapshot of an empty replica: %v, want ErrEmpty", err)
	}
	rep, err := c.Pass(context.Background(), compact.PassOptions{})
	if err != nil || len(rep.Merges)+len(rep.Deleted)+len(rep.Problems) != 0 {
		t.Fatalf("Pass on an empty replica: %+v, %v; want nothing done", rep, err)
	}
}
