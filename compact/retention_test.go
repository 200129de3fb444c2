package compact_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// shortDays are intervals that make hours of simulated time behave like
// days of the defaults.
var shortDays = compact.Config{
	Levels:            []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute},
	SnapshotInterval:  time.Hour,
	SnapshotRetention: 2 * time.Hour,
	L0Retention:       5 * time.Minute,
}

// Over five simulated hours, with a pass every two minutes, the replica
// stays within the bounds of the rules: snapshots for the retention period, compacted files back to the
// snapshot before the oldest one kept, level-0 files for the level-0
// retention; every file deleted says why; every state still reachable
// restores to the truth, and the latest always does.
func TestRetentionKeepsTheReplicaBounded(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	c := e.compactor(shortDays)
	const step = 4 * time.Minute
	var deleted []compact.Deletion
	nextPass := epoch.Add(time.Minute + 10*time.Second)
	for e.clock.Now().Before(epoch.Add(5 * time.Hour)) {
		e.commits(1, step)
		for !e.clock.Now().Before(nextPass) {
			now := e.clock.Now()
			e.clock.Set(nextPass)
			rep := pass(t, c)
			deleted = append(deleted, rep.Deleted...)
			e.clock.Set(now)
			nextPass = nextPass.Add(2 * time.Minute)
		}
	}
	files := e.files()
	count := map[int]int{}
	for _, f := range files {
		count[f.Level]++
	}
	// Bounds: what accumulates between two snapshot retentions.
	cfg := c.Config()
	span := cfg.SnapshotRetention + 2*cfg.SnapshotInterval
	for i, d := range cfg.Levels {
		if bound := int(span/max(d, step)) + 2; count[i+1] > bound {
			t.Errorf("level %d has %d files, more than %d", i+1, count[i+1], bound)
		}
	}
	if bound := int((cfg.L0Retention+cfg.Levels[0]+2*time.Minute)/step) + 2; count[0] > bound {
		t.Errorf("level 0 has %d files, more than %d", count[0], bound)
	}
	if bound := int(cfg.SnapshotRetention/cfg.SnapshotInterval) + 2; count[9] > bound || count[9] < 1 {
		t.Errorf("level 9 has %d snapshots, want 1 to %d", count[9], bound)
	}
	if len(deleted) == 0 {
		t.Fatal("nothing was deleted in five hours")
	}
	for _, d := range deleted {
		if d.Reason == "" {
			t.Errorf("%s deleted without a reason", d.File)
		}
	}
	t.Logf("files per level after 5 h: %v; %d deleted; %d commits", count, len(deleted), e.w.TXID())
	n := e.checkRestores(t)
	snaps := levelOf(files, storage.SnapshotLevel)
	if got := reachable(files); got[0] > snaps[0].MaxTXID {
		t.Errorf("the oldest snapshot kept (%s) is not reachable (oldest state %s)", snaps[0], got[0])
	}
	t.Logf("%d states restore to the truth", n)
}

// Snapshot retention never deletes the newest snapshot, however old.
func TestSnapshotRetentionKeepsTheNewest(t *testing.T) {
	e := newEnv(t)
	c := e.compactor(compact.Config{SnapshotRetention: time.Hour})
	ctx := context.Background()
	e.commits(3, time.Minute)
	if _, err := c.Snapshot(ctx); err != nil {
		t.Fatal(err)
	}
	e.commits(3, time.Minute)
	newest, err := c.Snapshot(ctx)
	if err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(48 * time.Hour)
	rep := pass(t, c)
	snaps := levelOf(e.files(), storage.SnapshotLevel)
	if len(snaps) != 1 || snaps[0].Key() != newest.Key() {
		t.Fatalf("snapshots left %v, want only the newest %s (deleted %v)", names(snaps), newest, rep.Deleted)
	}
	e.checkRestores(t)
}

// onlyLevels configures a compactor that never compacts within the test
// (its interval has not ended yet), so that only retention acts.
func onlyRetention() compact.Config {
	return compact.Config{Levels: []time.Duration{10000 * time.Hour}, SnapshotInterval: -1}
}

// A level-0 file goes once a higher level covers it and it is old: here
// level 1 covers 1-10 and 21-30 but not 11-20. Those stay whatever their
// age (Litestream's rule, "ends at or before the highest level-1 TXID",
// would delete them and leave a gap); so do the young ones and the newest.
func TestL0RetentionKeepsWhatNothingElseCovers(t *testing.T) {
	e := newEnv(t)
	e.commits(39, time.Second) // TXIDs 1-40
	e.w.Compact(1, 1, 10)
	e.w.Compact(1, 21, 30)
	e.w.Compact(1, 31, 40)
	e.clock.Advance(10 * time.Minute)
	e.commits(5, time.Second) // 41-45: young
	e.clock.Advance(time.Minute)
	c := e.compactor(onlyRetention())
	rep := pass(t, c)
	var gone []ltx.TXID
	for _, d := range rep.Deleted {
		gone = append(gone, d.File.MinTXID)
	}
	l0 := levelOf(e.files(), 0)
	var kept []ltx.TXID
	for _, f := range l0 {
		kept = append(kept, f.MinTXID)
	}
	want := []ltx.TXID{11, 12, 13, 14, 15, 16, 17, 18, 19, 20, 41, 42, 43, 44, 45}
	if !slices.Equal(kept, want) {
		t.Fatalf("level 0 keeps %v, want %v (deleted %v)", kept, want, gone)
	}
	e.checkRestores(t)
}

// When every level-0 file is old and covered, the newest one stays.
func TestL0RetentionKeepsTheNewestFile(t *testing.T) {
	e := newEnv(t)
	e.commits(9, time.Second)
	e.w.Compact(1, 1, 10)
	e.clock.Advance(time.Hour)
	pass(t, e.compactor(onlyRetention()))
	if l0 := levelOf(e.files(), 0); len(l0) != 1 || l0[0].MaxTXID != 10 {
		t.Fatalf("level 0 keeps %v, want only TXID 10", names(l0))
	}
}

// A junk file named like a level-1 file covers nothing: the level-0 files
// under it stay, and the junk is reported.
func TestJunkFileCoversNothing(t *testing.T) {
	e := newEnv(t)
	e.commits(9, time.Second)
	junk := storage.FileInfo{Level: 1, MinTXID: 1, MaxTXID: 10}
	if err := e.store.Write(context.Background(), junk, e.clock.Now(), strings.NewReader(strings.Repeat("junk", 100))); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	rep, err := e.compactor(onlyRetention()).Pass(context.Background(), compact.PassOptions{})
	var ce *replica.CorruptError
	if !errors.As(err, &ce) || ce.File.Key() != junk.Key() {
		t.Fatalf("pass: %v, want a problem naming the junk file %s", err, junk)
	}
	if len(rep.Deleted) != 0 || len(levelOf(e.files(), 0)) != 10 {
		t.Fatalf("deleted %v because of a junk cover", rep.Deleted)
	}
}

// Files that overlap (two compactors raced, one of them stale) cover every
// TXID, but with the level-0 files gone no chain of whole files would
// reach the latest state: retention deletes what it can and keeps, with
// the reason, the level-0 files on the only chain.
func TestRetentionKeepsTheLatestStateReachable(t *testing.T) {
	e := newEnv(t)
	e.commits(19, time.Second) // 1-20
	e.w.Compact(1, 1, 12)
	e.w.Compact(1, 10, 20) // starts inside the file before it
	e.clock.Advance(time.Hour)
	rep := pass(t, e.compactor(onlyRetention()))
	var kept []ltx.TXID
	for _, d := range rep.Kept {
		kept = append(kept, d.File.MinTXID)
		if !strings.Contains(d.Reason, "only chain") {
			t.Errorf("kept %s: %s", d.File, d.Reason)
		}
	}
	if want := []ltx.TXID{13, 14, 15, 16, 17, 18, 19}; !slices.Equal(kept, want) {
		t.Errorf("kept level-0 files %v, want %v (deleted %v)", kept, want, rep.Deleted)
	}
	if _, err := replica.BuildPlan(e.files(), 0); err != nil {
		t.Fatalf("latest state unreachable after retention: %v", err)
	}
	e.checkRestores(t)
}

// Dry run reports what a pass would do and changes nothing; the pass then
// does exactly that.
func TestDryRunChangesNothing(t *testing.T) {
	e := newEnv(t)
	cfg := shortDays
	e.commits(30, 20*time.Second)
	if _, err := e.compactor(cfg).Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.commits(30, 20*time.Second)
	pass(t, e.compactor(cfg))
	e.clock.Advance(3 * time.Hour)
	e.commits(30, 20*time.Second)

	before := names(e.files())
	dry, err := e.compactor(cfg).Pass(context.Background(), compact.PassOptions{DryRun: true})
	if err != nil {
		t.Fatal(err)
	}
	if after := names(e.files()); !slices.Equal(before, after) {
		t.Fatalf("dry run changed the replica:\nbefore %v\nafter  %v", before, after)
	}
	if len(dry.Merges) == 0 || len(dry.Deleted) == 0 {
		t.Fatalf("dry run planned %d merges and %d deletions; the test wants both", len(dry.Merges), len(dry.Deleted))
	}
	real := pass(t, e.compactor(cfg))
	for i, m := range dry.Merges {
		if m.Outcome != compact.Planned || i >= len(real.Merges) || real.Merges[i].Output.Key() != m.Output.Key() {
			t.Errorf("dry run merge %d: %s %s, the pass did %v", i, m.Outcome, m.Output, real.Merges)
		}
	}
	var dryDel, realDel []string
	for _, d := range dry.Deleted {
		dryDel = append(dryDel, d.File.String())
	}
	for _, d := range real.Deleted {
		realDel = append(realDel, d.File.String())
	}
	if !slices.Equal(dryDel, realDel) {
		t.Errorf("dry run would delete %v, the pass deleted %v", dryDel, realDel)
	}
}

// A corrupt level-0 file in the middle stops level 1 before it (no chain
// reaches past it), is reported by every pass, and is never deleted.
func TestCorruptFileIsReportedAndSkipped(t *testing.T) {
	e := newEnv(t)
	e.commits(9, time.Second)
	bad := levelOf(e.files(), 0)[4]
	path := filepath.Join(strings.TrimPrefix(e.store.String(), "file://"), "ltx", "0", bad.Name())
	if err := os.WriteFile(path, []byte("garbage, not an LTX file: garbage, not an LTX file: garbage, not an LTX file: garbage, not an LTX file: garbage"), 0o644); err != nil {
		t.Fatal(err)
	}
	e.clock.Advance(time.Hour)
	c := e.compactor(compact.Config{L0Retention: time.Minute})
	for range 2 {
		rep, err := c.Pass(context.Background(), compact.PassOptions{})
		var ce *replica.CorruptError
		if !errors.As(err, &ce) || ce.File.Key() != bad.Key() {
			t.Fatalf("pass: %v, want a problem naming %s", err, bad)
		}
		for _, m := range rep.Merges {
			if m.Output.MaxTXID >= bad.MinTXID {
				t.Errorf("merged past the corrupt file: %s", m.Output)
			}
		}
	}
	if !slices.ContainsFunc(e.files(), func(f storage.FileInfo) bool { return f.Key() == bad.Key() }) {
		t.Error("the corrupt file was deleted")
	}
}
