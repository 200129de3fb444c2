package compact

import (
	"context"
	"time"
)

// Run compacts on schedule until ctx ends, then returns nil (or the
// configuration's error at once). It runs in the caller's goroutine and
// starts none that outlive it.
//
// At the start it does a whole pass, as Litestream's monitors do. Then
// level N runs a moment (see settle) after each multiple of its interval,
// lower levels first when several are due; the snapshot runs after each
// multiple of SnapshotInterval, followed by snapshot retention; level-0
// retention runs after each level-1 compaction and every
// L0RetentionCheckInterval. Problems are logged and reported to OnPass,
// and the schedule goes on.
func (c *Compactor) Run(ctx context.Context) error {
	if err := c.cfg.Validate(); err != nil {
		return err
	}
	first := c.allSteps()
	first.knownBad = false
	c.runSteps(ctx, first)

	now := c.cfg.Now()
	next := make([]time.Time, len(c.cfg.Levels))
	for i, d := range c.cfg.Levels {
		next[i] = nextRun(now, d)
	}
	var nextSnap time.Time
	if c.cfg.SnapshotInterval > 0 {
		nextSnap = nextRun(now, c.cfg.SnapshotInterval)
	}
	nextL0 := now.Add(c.cfg.L0RetentionCheckInterval)

	timer := time.NewTimer(0)
	defer timer.Stop()
	for {
		due := nextL0
		for _, t := range next {
			due = earlier(due, t)
		}
		if !nextSnap.IsZero() {
			due = earlier(due, nextSnap)
		}
		timer.Reset(max(due.Sub(c.cfg.Now()), 0))
		select {
		case <-ctx.Done():
			return nil
		case <-timer.C:
		}

		now := c.cfg.Now()
		var s steps
		for i, t := range next {
			if !now.Before(t) {
				s.levels = append(s.levels, i+1)
				next[i] = nextRun(now, c.cfg.Levels[i])
			}
		}
		if !nextSnap.IsZero() && !now.Before(nextSnap) {
			s.snapshot, s.snapRet = true, true
			nextSnap = nextRun(now, c.cfg.SnapshotInterval)
		}
		if !now.Before(nextL0) {
			s.l0Ret = true
			nextL0 = now.Add(c.cfg.L0RetentionCheckInterval)
		}
		c.runSteps(ctx, s)
	}
}

func earlier(a, b time.Time) time.Time {
	if b.Before(a) {
		return b
	}
	return a
}

// runSteps runs one scheduled pass and tells about it.
func (c *Compactor) runSteps(ctx context.Context, s steps) {
	rep, err := c.run(ctx, s, false)
	if ctx.Err() != nil {
		return
	}
	if err != nil {
		rep.Problems = append(rep.Problems, err)
	}
	for _, p := range rep.Problems {
		c.cfg.Logger.Warn("compaction problem", "replica", c.rep.String(), "error", p)
	}
	if c.cfg.OnPass != nil {
		c.cfg.OnPass(rep)
	}
}
