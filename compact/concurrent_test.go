package compact_test

import (
	"context"
	"fmt"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// fast is a schedule that makes a few seconds behave like days.
func fast() compact.Config {
	return compact.Config{
		Levels:                   []time.Duration{50 * time.Millisecond, 200 * time.Millisecond, 600 * time.Millisecond},
		SnapshotInterval:         time.Second,
		SnapshotRetention:        1500 * time.Millisecond,
		L0Retention:              300 * time.Millisecond,
		L0RetentionCheckInterval: 100 * time.Millisecond,
	}
}

// tryCommit is one commit of the test's mix, for use off the test
// goroutine.
func (e *env) tryCommit() error {
	txid := e.w.TXID() + 1
	q := `insert into t(v) select hex(randomblob(120)) from (select 1 union all select 2)`
	if txid%4 == 0 {
		q = `update t set v = hex(randomblob(60)) where id % 5 = ` + fmt.Sprint(int(txid)%5)
	}
	if _, err := e.w.DB().Exec(q); err != nil {
		return err
	}
	f, err := e.w.TryCommit()
	if err != nil {
		return err
	}
	e.record(f.MaxTXID)
	return nil
}

// listInOrder lists level 0 first, then each level above it, so that a
// file deleted after a cover was written is seen, or its cover is: a
// consistent picture of a replica that changes during the listing.
func listInOrder(ctx context.Context, r *replica.Replica) ([]storage.FileInfo, error) {
	var all []storage.FileInfo
	for level := 0; level <= storage.MaxLevel; level++ {
		files, err := r.List(ctx, level, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
	}
	return all, nil
}

// While a writer adds level-0 files as fast as it can, two compactors run
// their schedules on the replica (as two processes would) and a checker
// lists it over and over: at every moment the latest state is reachable
// (no deletion ever removed the only cover of a TXID) and both compactors
// report no problem. Once the writer stops, no level holds two files for
// one range (if the compactors ever raced and both wrote, the duplicate is
// deleted), and every state restores to the truth.
func TestConcurrentWriterAndCompactorsNeverLoseCoverage(t *testing.T) {
	t.Parallel()
	e := newRealtimeEnv(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	errs := make(chan error, 100)
	report := func(err error) {
		select {
		case errs <- err:
		default:
		}
	}

	var passes atomic.Int64
	for i := range 2 {
		cfg := fast()
		cfg.Merge.TempDir = t.TempDir()
		cfg.OnPass = func(rep compact.Report) {
			passes.Add(1)
			for _, p := range rep.Problems {
				report(fmt.Errorf("compactor %d: %w", i, p))
			}
		}
		c := e.compactor(cfg)
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				report(err)
			}
		})
	}

	var checks atomic.Int64
	wg.Go(func() { // the checker
		for ctx.Err() == nil {
			floor := e.w.TXID()
			files, err := listInOrder(ctx, e.rep)
			if err != nil {
				if ctx.Err() == nil {
					report(err)
				}
				return
			}
			if floor == 0 {
				continue
			}
			plan, err := replica.BuildPlan(files, 0)
			if err != nil {
				report(fmt.Errorf("check %d: latest state unreachable: %w", checks.Load(), err))
				return
			}
			if plan.TXID < floor {
				report(fmt.Errorf("check %d: latest reachable TXID %s, the writer had reached %s", checks.Load(), plan.TXID, floor))
				return
			}
			checks.Add(1)
		}
	})

	deadline := time.Now().Add(4 * time.Second)
	for time.Now().Before(deadline) {
		if err := e.tryCommit(); err != nil {
			t.Fatal(err)
		}
		time.Sleep(2 * time.Millisecond) // a commit rate a busy writer has, not a spin
	}
	testenv.Eventually(t, 5*time.Second, func() (bool, string) {
		msg := overlapping(e.files())
		return msg == "", msg
	})
	cancel()
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Error(err)
	}
	files := e.files()
	if t.Failed() {
		t.Logf("files at the end: %v", names(files))
	}
	count := map[int]int{}
	for _, f := range files {
		count[f.Level]++
	}
	t.Logf("%d commits, %d passes, %d checks; files per level at the end: %v", e.w.TXID(), passes.Load(), checks.Load(), count)
	if checks.Load() < 10 || count[1] == 0 || count[2] == 0 || count[3] == 0 || count[9] == 0 {
		t.Fatalf("the run did too little to test anything: %d checks, files %v", checks.Load(), count)
	}
	if int64(count[0]) >= int64(e.w.TXID())/2 {
		t.Errorf("level 0 keeps %d of %d files: retention did not run", count[0], e.w.TXID())
	}
	n := e.checkRestores(t)
	t.Logf("%d states restore to the truth", n)
}
