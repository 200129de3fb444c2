// Package compact is the compactor of a replica: it merges the files of
// level N into level N+1 on an interval per level, writes full snapshots
// to level 9, and deletes what retention no longer needs, with Litestream
// 0.5's layout and rules, so that `litestream restore` and `litestream
// replicate` keep working on a replica strata compacts.
//
// Several compactors, in several processes, may act on one replica: the
// output of each run is chosen from what is settled (commits made before
// the end of the last whole interval), so they choose the same file, and
// exclusive creation of that file decides which one writes it; the other
// finds it there, which is not an error. Deletions never remove the only
// cover of a TXID the replica still promises (see retention.go).
package compact

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// Compactor compacts one replica. Its methods may be called from several
// goroutines: passes run one at a time.
type Compactor struct {
	rep *replica.Replica
	cfg Config // with defaults; read-only

	// mu serializes passes (Pass, Snapshot and Run's) and guards bad.
	mu sync.Mutex
	// bad holds the files found corrupt, with why. They are skipped from
	// then on (files never change) and reported by every pass.
	bad map[storage.FileKey]error
}

// New returns a compactor of rep. Zero fields of cfg get defaults; an
// invalid cfg is reported by the first pass.
func New(rep *replica.Replica, cfg Config) *Compactor {
	return &Compactor{rep: rep, cfg: cfg.WithDefaults(), bad: make(map[storage.FileKey]error)}
}

// Config is the configuration in use, defaults filled in.
func (c *Compactor) Config() Config { return c.cfg }

// PassOptions tunes Pass.
type PassOptions struct {
	// DryRun computes what the pass would merge and delete, and changes
	// nothing.
	DryRun bool
}

// steps says what a pass does.
type steps struct {
	levels    []int // levels to compact into, in order
	snapshot  bool  // write a scheduled snapshot if one is due
	snapRet   bool  // apply snapshot retention
	l0Ret     bool  // apply level-0 retention
	forceSnap bool  // write a snapshot of the latest state now
	// knownBad reports the corrupt files found by earlier passes again
	// (a scheduled pass reports each one once, when it finds it).
	knownBad bool
}

func (c *Compactor) allSteps() steps {
	s := steps{snapshot: c.cfg.SnapshotInterval > 0, snapRet: true, l0Ret: true, knownBad: true}
	for l := range c.cfg.Levels {
		s.levels = append(s.levels, l+1)
	}
	return s
}

// Pass does now what the schedule does over time: it compacts every level
// up to the end of its last whole interval, writes a snapshot if one is
// due, and applies retention. The error joins the report's problems; the
// pass goes on past each of them.
func (c *Compactor) Pass(ctx context.Context, opts PassOptions) (Report, error) {
	rep, err := c.run(ctx, c.allSteps(), opts.DryRun)
	if err != nil {
		return rep, err
	}
	return rep, rep.Err()
}

// Snapshot writes a snapshot of the latest state to level 9 now and
// returns it. If a snapshot of that state exists already, it returns that
// one with an error matching storage.ErrExists.
func (c *Compactor) Snapshot(ctx context.Context) (storage.FileInfo, error) {
	rep, err := c.run(ctx, steps{forceSnap: true, knownBad: true}, false)
	if err != nil {
		return storage.FileInfo{}, err
	}
	for _, m := range rep.Merges {
		if m.Output.Level != storage.SnapshotLevel {
			continue
		}
		if m.Outcome == Exists {
			return m.Output, fmt.Errorf("snapshot %s of %s: %w", m.Output, c.rep, storage.ErrExists)
		}
		return m.Output, nil
	}
	if err := rep.Err(); err != nil {
		return storage.FileInfo{}, err
	}
	return storage.FileInfo{}, fmt.Errorf("snapshot of %s: nothing to snapshot", c.rep)
}

// run lists the replica and does the steps.
func (c *Compactor) run(ctx context.Context, s steps, dry bool) (Report, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	now := c.cfg.Now()
	rep := Report{At: now, DryRun: dry}
	if err := c.cfg.Validate(); err != nil {
		return rep, err
	}
	files, err := c.rep.Files(ctx)
	if err != nil {
		return rep, err
	}
	v := newView(files, c.isBad)
	for key, why := range c.bad {
		if s.knownBad && listed(files, key) {
			rep.Problems = append(rep.Problems, why)
		}
	}
	p := &pass{c: c, v: v, now: now, dry: dry, rep: &rep, planned: make(map[storage.FileKey]time.Time)}
	compactedL1 := false
	for _, level := range s.levels {
		if ctx.Err() != nil {
			return rep, ctx.Err()
		}
		if p.compactLevel(ctx, level) && level == 1 {
			compactedL1 = true
		}
	}
	if s.snapshot || s.forceSnap {
		p.snapshot(ctx, s.forceSnap)
	}
	if s.snapRet {
		p.snapshotRetention(ctx)
	}
	if s.l0Ret || compactedL1 {
		p.l0Retention(ctx)
		p.duplicates(ctx)
	}
	if ctx.Err() != nil {
		return rep, ctx.Err()
	}
	return rep, nil
}

func listed(files []storage.FileInfo, key storage.FileKey) bool {
	for _, f := range files {
		if f.Key() == key {
			return true
		}
	}
	return false
}

func (c *Compactor) isBad(f storage.FileInfo) bool {
	_, ok := c.bad[f.Key()]
	return ok
}

// pass is the state of one run: its view of the replica and its report.
type pass struct {
	c   *Compactor
	v   *view
	now time.Time
	dry bool
	rep *Report
	// planned are the outputs a dry run would write, with their commit
	// times: in the view, so that later steps see them, but never read.
	planned map[storage.FileKey]time.Time
}

// commitTime is the commit time of f's last TXID, from its header.
func (p *pass) commitTime(ctx context.Context, f storage.FileInfo) (time.Time, error) {
	if t, ok := p.planned[f.Key()]; ok {
		return t, nil
	}
	h, err := p.c.rep.ParsedHeader(ctx, f)
	if err != nil {
		return time.Time{}, err
	}
	return time.UnixMilli(h.Timestamp), nil
}

// checkHeader reads f's header (a planned file is taken as good).
func (p *pass) checkHeader(ctx context.Context, f storage.FileInfo) error {
	_, err := p.commitTime(ctx, f)
	return err
}

func (p *pass) problem(err error) {
	p.rep.Problems = append(p.rep.Problems, err)
}

// markBad records a corrupt file found by err, if err says which one, and
// drops it from the view; it reports whether it did.
func (p *pass) markBad(err error) bool {
	var ce *replica.CorruptError
	if !errors.As(err, &ce) {
		return false
	}
	key := ce.File.Key()
	if _, ok := p.c.bad[key]; ok {
		return false
	}
	p.c.bad[key] = fmt.Errorf("corrupt file %s skipped: %w", ce.File, ce)
	p.problem(p.c.bad[key])
	p.v.remove(map[storage.FileKey]bool{key: true})
	return true
}

// vanished reports whether err says a file the pass counted on is gone
// (another compactor's retention deleted it) and, if so, lists the replica
// again so that the step can start over.
func (p *pass) vanished(ctx context.Context, err error) bool {
	return errors.Is(err, storage.ErrNotFound) && p.refresh(ctx) == nil
}

// refresh lists the replica again, after files the pass counted on
// vanished.
func (p *pass) refresh(ctx context.Context) error {
	files, err := p.c.rep.Files(ctx)
	if err != nil {
		return err
	}
	v := newView(files, p.c.isBad)
	for _, f := range p.v.files {
		if _, ok := p.planned[f.Key()]; ok {
			v.add(f)
		}
	}
	p.v = v
	return nil
}

// maxRetries bounds how many corrupt or vanished files one step routes
// around.
const maxRetries = 8

// merge writes (or, in a dry run, plans) one merge of chain into level.
func (p *pass) merge(ctx context.Context, chain []storage.FileInfo, level int) (Merge, error) {
	m := Merge{Inputs: chain}
	m.Output = storage.FileInfo{Level: level, MinTXID: chain[0].MinTXID, MaxTXID: chain[len(chain)-1].MaxTXID, ModTime: p.now}
	if p.dry {
		t, err := p.commitTime(ctx, chain[len(chain)-1])
		if err != nil {
			return m, err
		}
		m.Outcome = Planned
		p.planned[m.Output.Key()] = t
		return m, nil
	}
	start := time.Now()
	out, err := p.c.rep.Compact(ctx, chain, level, p.c.cfg.Merge)
	m.Took = time.Since(start)
	switch {
	case errors.Is(err, storage.ErrExists):
		m.Outcome = Exists
		// The winner's file is there: list it for its size and time.
		files, lerr := p.c.rep.List(ctx, level, m.Output.MinTXID)
		if lerr != nil {
			return m, lerr
		}
		for _, f := range files {
			if f.Key() == m.Output.Key() {
				m.Output = f
			}
		}
	case err != nil:
		return m, err
	default:
		m.Output, m.Outcome = out, Written
		// Retention reads creation time as listings give it.
		m.Output.ModTime = p.now
	}
	return m, nil
}

// record adds a merge to the report and its output to the view.
func (p *pass) record(m Merge) {
	p.rep.Merges = append(p.rep.Merges, m)
	p.v.add(m.Output)
	log := p.c.cfg.Logger
	switch m.Outcome {
	case Written:
		log.Info("compacted", "replica", p.c.rep.String(), "inputs", len(m.Inputs), "from", span(m.Inputs), "into", m.Output.String(), "size", m.Output.Size, "took", m.Took)
	case Exists:
		log.Debug("compaction done elsewhere", "replica", p.c.rep.String(), "file", m.Output.String())
	}
}
