package compact

import (
	"context"
	"fmt"
	"sort"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// A snapshot is the whole database at one TXID, at level 9 with MinTXID 1.
// Litestream writes it from the database file; strata, which may have no
// database file, merges the restore plan of that TXID (the newest snapshot
// before it and the compacted files after it) — the same bytes of pages.
// On schedule the snapshot is of the last TXID committed before the end
// of the last whole snapshot interval (so that compactors agree, as for
// levels); Snapshot takes the latest TXID.

// snapshot writes a snapshot if one is due (or, with latest, of the
// latest state now).
func (p *pass) snapshot(ctx context.Context, latest bool) {
	for range maxRetries {
		chain, err := p.snapshotInputs(ctx, latest)
		if p.markBad(err) || p.vanished(ctx, err) {
			continue
		}
		if err != nil {
			p.problem(fmt.Errorf("snapshot of %s: %w", p.c.rep, err))
			return
		}
		if len(chain) == 0 {
			return
		}
		m, err := p.merge(ctx, chain, storage.SnapshotLevel)
		if p.markBad(err) {
			continue
		}
		if p.vanished(ctx, err) {
			continue // another compactor's retention removed an input
		}
		if err != nil {
			if ctx.Err() == nil {
				p.problem(fmt.Errorf("snapshot of %s: %w", p.c.rep, err))
			}
			return
		}
		p.record(m)
		return
	}
	p.problem(fmt.Errorf("snapshot of %s: gave up after %d corrupt files", p.c.rep, maxRetries))
}

// snapshotInputs is the restore plan of the state to snapshot, or nothing
// when the newest snapshot already holds it.
func (p *pass) snapshotInputs(ctx context.Context, latest bool) ([]storage.FileInfo, error) {
	if len(p.v.files) == 0 {
		if latest {
			return nil, replica.ErrEmpty
		}
		return nil, nil
	}
	var plan replica.Plan
	var err error
	if latest {
		plan, err = replica.BuildPlan(p.v.files, 0)
	} else {
		plan, err = p.scheduledPlan(ctx)
	}
	if err != nil || len(plan.Files) == 0 {
		return nil, err
	}
	for _, s := range p.v.level(storage.SnapshotLevel) {
		if s.MaxTXID == plan.TXID && latest { // Snapshot says it exists
			p.record(Merge{Inputs: []storage.FileInfo{s}, Output: s, Outcome: Exists})
			return nil, nil
		}
		if s.MaxTXID >= plan.TXID {
			return nil, nil // that state or a newer one is there already
		}
	}
	return plan.Files, nil
}

// maxStepsBack bounds how many earlier states a scheduled snapshot tries
// when the last one before the boundary is not reachable on its own.
const maxStepsBack = 64

// scheduledPlan is the plan of the last reachable state committed before
// the end of the last whole snapshot interval: a state where compacted
// files end (so that the files after the snapshot continue right after
// it once level 0 is gone), or where any file ends if compaction has not
// reached that far.
func (p *pass) scheduledPlan(ctx context.Context) (replica.Plan, error) {
	plan, err := p.planBefore(ctx, 1)
	if err != nil || len(plan.Files) > 0 {
		return plan, err
	}
	return p.planBefore(ctx, 0)
}

// planBefore is scheduledPlan among the ends of files from level minLevel.
func (p *pass) planBefore(ctx context.Context, minLevel int) (replica.Plan, error) {
	byEnd := make(map[ltx.TXID]storage.FileInfo)
	for _, f := range p.v.files {
		if f.Level < minLevel {
			continue
		}
		if cur, ok := byEnd[f.MaxTXID]; !ok || f.Level < cur.Level {
			byEnd[f.MaxTXID] = f
		}
	}
	ends := make([]storage.FileInfo, 0, len(byEnd))
	for _, f := range byEnd {
		ends = append(ends, f)
	}
	sort.Slice(ends, func(i, j int) bool { return ends[i].MaxTXID < ends[j].MaxTXID })
	n, err := p.before(ctx, ends, boundary(p.now, p.c.cfg.SnapshotInterval))
	if err != nil {
		return replica.Plan{}, err
	}
	for i := n - 1; i >= max(n-maxStepsBack, 0); i-- {
		if plan, err := replica.BuildPlan(p.v.files, ends[i].MaxTXID); err == nil {
			return plan, nil
		}
	}
	return replica.Plan{}, nil
}
