package compact

import (
	"context"
	"errors"
	"fmt"

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
	for range maxBadRetries {
		chain, err := p.snapshotInputs(ctx, latest)
		if p.markBad(err) {
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
		if err != nil {
			if ctx.Err() == nil {
				p.problem(fmt.Errorf("snapshot of %s: %w", p.c.rep, err))
			}
			return
		}
		p.record(m)
		return
	}
	p.problem(fmt.Errorf("snapshot of %s: gave up after %d corrupt files", p.c.rep, maxBadRetries))
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
	var target ltx.TXID // 0: the latest
	if !latest {
		t, err := p.lastBefore(ctx, p.v.files, boundary(p.now, p.c.cfg.SnapshotInterval))
		if err != nil || t == 0 {
			return nil, err
		}
		target = t
	}
	plan, err := replica.BuildPlan(p.v.files, target)
	if err != nil {
		if errors.Is(err, replica.ErrUnreachable) && !latest {
			// Readers cannot reach that state either; the next pass may.
			return nil, fmt.Errorf("TXID %s: %w", target, err)
		}
		return nil, err
	}
	for _, s := range p.v.level(storage.SnapshotLevel) {
		if s.MaxTXID == plan.TXID {
			if latest { // report it: Snapshot says it exists
				p.record(Merge{Inputs: []storage.FileInfo{s}, Output: s, Outcome: Exists})
			}
			return nil, nil
		}
		if s.MaxTXID > plan.TXID && !latest {
			return nil, nil // a newer snapshot exists already
		}
	}
	return plan.Files, nil
}
