package compact_test

import (
	"context"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Level 1 takes in, after its own last file, every commit made before the
// end of its last whole interval; later commits wait for the next one. A
// second pass in the same interval has nothing to do.
func TestLevelTakesInCommitsBeforeItsBoundary(t *testing.T) {
	e := newEnv(t) // TXID 1 at 00:00:00
	e.commits(10, 7*time.Second)
	// TXIDs 2-11 committed at 00:00:07, :14, ... :56 (TXID 9), 01:03, 01:10.
	c := e.compactor(compact.Config{})
	rep := pass(t, c) // at 00:01:10: level 1's last whole interval ends at 00:01:00
	if got := names(written(rep)); !slices.Equal(got, []string{"L1/0000000000000001-0000000000000009.ltx"}) {
		t.Fatalf("first pass wrote %v, want level 1 up to TXID 9 (the last commit before 00:01:00)", got)
	}
	if rep := pass(t, c); len(rep.Merges) != 0 || len(rep.Deleted) != 0 {
		t.Fatalf("a second pass in the same interval did %+v", rep)
	}

	e.clock.Set(epoch.Add(93 * time.Second)) // 00:01:30 has not settled yet
	if rep := pass(t, c); len(rep.Merges) != 0 {
		t.Fatalf("before the boundary settled: %+v", rep.Merges)
	}
	e.clock.Set(epoch.Add(95 * time.Second))
	rep = pass(t, c)
	if got := names(written(rep)); !slices.Equal(got, []string{"L1/000000000000000a-000000000000000b.ltx"}) {
		t.Fatalf("pass after 00:01:30 wrote %v, want level 1 from TXID 10 to 11", got)
	}
	e.checkRestores(t)
}

// simulate commits every step until the clock reaches until, running a
// pass of c every passEvery (a moment after each multiple of it).
func simulate(t testing.TB, e *env, until time.Time, step, passEvery time.Duration, cs ...*compact.Compactor) {
	t.Helper()
	nextPass := e.clock.Now().Truncate(passEvery).Add(passEvery + 5*time.Second)
	for e.clock.Now().Before(until) {
		e.commits(1, step)
		for !e.clock.Now().Before(nextPass) {
			now := e.clock.Now()
			e.clock.Set(nextPass)
			for _, c := range cs {
				pass(t, c)
			}
			e.clock.Set(now)
			nextPass = nextPass.Add(passEvery)
		}
	}
}

// Every level ends on a boundary of its own interval and continues its
// previous file: after 40 minutes of commits every 20 s, with levels of 1,
// 5 and 15 minutes, level 1 has a file per minute, level 2 per 5 minutes
// and level 3 two; the files of each level tile the history without
// overlap, and every state they reach restores to what the database held.
func TestLevelsTileTheHistory(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	levels := []time.Duration{time.Minute, 5 * time.Minute, 15 * time.Minute}
	c := e.compactor(compact.Config{Levels: levels, L0Retention: -1, SnapshotInterval: -1})
	simulate(t, e, epoch.Add(40*time.Minute), 20*time.Second, time.Minute, c)
	files := e.files()
	checkLevelsDisjoint(t, files)
	for i, interval := range levels {
		level := i + 1
		fs := levelOf(files, level)
		if len(fs) == 0 {
			t.Fatalf("level %d is empty", level)
		}
		if fs[0].MinTXID != 1 {
			t.Errorf("level %d starts at %s, want TXID 1", level, fs[0].MinTXID)
		}
		for i, f := range fs {
			if i > 0 && f.MinTXID != fs[i-1].MaxTXID+1 {
				t.Errorf("level %d: %s does not continue %s", level, f, fs[i-1])
			}
			// It ends with the last commit before a boundary of the level:
			// the next commit is in a later interval.
			if commitTime(f.MaxTXID).Truncate(interval).Equal(commitTime(f.MaxTXID + 1).Truncate(interval)) {
				t.Errorf("level %d: %s ends at a commit of %s, but TXID %s (%s) is in the same %s interval",
					level, f, commitTime(f.MaxTXID), f.MaxTXID+1, commitTime(f.MaxTXID+1), interval)
			}
		}
	}
	// Passes ran a moment after each minute up to 00:39: level 3 closed
	// at 00:15 and 00:30, level 2 at each 5 minutes up to 00:35.
	if n := len(levelOf(files, 3)); n != 2 {
		t.Errorf("level 3 has %d files, want 2", n)
	}
	if n := len(levelOf(files, 2)); n != 7 {
		t.Errorf("level 2 has %d files, want 7", n)
	}
	e.checkRestores(t)
}

// commitTime is TXID's commit time as the writer's clock made it: TXID 1
// at the epoch, then one commit every 20 s (TestLevelsTileTheHistory).
func commitTime(txid ltx.TXID) time.Time {
	return epoch.Add(time.Duration(txid-1) * 20 * time.Second)
}

// Compactors in two processes (here two Compactors) that run in the same
// interval choose the same files: exclusive creation lets one write each,
// the other finds it there, and no level gets two files for one range.
func TestCompactorsRacingWriteEachFileOnce(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	a := e.compactor(compact.Config{SnapshotInterval: -1})
	b := e.compactor(compact.Config{SnapshotInterval: -1})
	var writes, exists int
	for round := range 20 {
		e.commits(3, 4*time.Second) // 12 s of commits per round
		var wg sync.WaitGroup
		reps := make([]compact.Report, 2)
		for i, c := range []*compact.Compactor{a, b} {
			wg.Go(func() {
				var err error
				reps[i], err = c.Pass(context.Background(), compact.PassOptions{})
				if err != nil {
					t.Errorf("round %d: %v", round, err)
				}
			})
		}
		wg.Wait()
		for _, rep := range reps {
			for _, m := range rep.Merges {
				switch m.Outcome {
				case compact.Written:
					writes++
				case compact.Exists:
					exists++
				}
			}
		}
	}
	files := e.files()
	checkLevelsDisjoint(t, files)
	var compacted int
	for _, f := range files {
		if f.Level > 0 && f.Level < storage.SnapshotLevel {
			compacted++
		}
	}
	if writes != compacted {
		t.Errorf("%d files written, %d compacted files listed: a file was written twice or lost", writes, compacted)
	}
	t.Logf("%d files written, %d lost races (not errors)", writes, exists)
	e.checkRestores(t)
}
