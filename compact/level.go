package compact

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Which files a level takes in follows Litestream 0.5: level N merges
// whole files of level N-1, those that start after the highest TXID level
// N holds (all of them when level N is empty), so that the files of level
// N always end where files of level N-1 end. Litestream takes every such
// file there is when its timer fires at a multiple of the interval; strata
// takes those whose last commit (header time) is before that multiple, so
// that compactors in several processes that run in the same interval
// choose the same file and exclusive creation can pick one of them.

// compactLevel merges what level takes in next, if anything; it reports
// whether it wrote (or planned) a file.
func (p *pass) compactLevel(ctx context.Context, level int) bool {
	interval := p.c.cfg.Levels[level-1]
	cutoff := boundary(p.now, interval)
	for range maxRetries {
		chain, err := p.levelInputs(ctx, level, cutoff)
		if p.markBad(err) || p.vanished(ctx, err) {
			continue // route around the corrupt or deleted file
		}
		if err != nil {
			p.problem(fmt.Errorf("compact level %d of %s: %w", level, p.c.rep, err))
			return false
		}
		if len(chain) == 0 {
			return false
		}
		if done, err := p.doneElsewhere(ctx, level, chain); err != nil || done {
			if err != nil {
				p.problem(fmt.Errorf("compact level %d of %s: %w", level, p.c.rep, err))
			}
			return false
		}
		m, err := p.merge(ctx, chain, level)
		if p.markBad(err) {
			continue
		}
		if p.vanished(ctx, err) {
			continue // another compactor's retention removed an input
		}
		if err != nil {
			if ctx.Err() == nil {
				p.problem(fmt.Errorf("compact level %d of %s: %w", level, p.c.rep, err))
			}
			return false
		}
		p.record(m)
		return true
	}
	p.problem(fmt.Errorf("compact level %d of %s: gave up after %d corrupt or vanished files", level, p.c.rep, maxRetries))
	return false
}

// doneElsewhere looks again, just before merging, for files of level that
// another compactor wrote since the pass listed the replica, over the
// range of chain. Two compactors that chose different ends (a commit
// landed between their listings) would otherwise both write, leaving
// overlapping files; the pass adds them to its view and lets them be.
func (p *pass) doneElsewhere(ctx context.Context, level int, chain []storage.FileInfo) (bool, error) {
	if p.dry {
		return false, nil
	}
	lo, hi := chain[0].MinTXID, chain[len(chain)-1].MaxTXID
	files, err := p.c.rep.List(ctx, level, lo)
	if err != nil {
		return false, err
	}
	done := false
	for _, f := range files {
		if f.MinTXID <= hi && !p.c.isBad(f) {
			p.v.add(f)
			p.rep.Merges = append(p.rep.Merges, Merge{Inputs: chain, Output: f, Outcome: Exists})
			done = true
		}
	}
	return done, nil
}

// errGap is matched by errors for TXIDs no file holds.
var errGap = errors.New("gap")

// levelInputs chooses the files of level-1 that level takes in before
// cutoff; none if nothing new was committed before it.
func (p *pass) levelInputs(ctx context.Context, level int, cutoff time.Time) ([]storage.FileInfo, error) {
	var dstMax ltx.TXID
	for _, f := range p.v.level(level) {
		dstMax = max(dstMax, f.MaxTXID)
	}
	var after []storage.FileInfo
	for _, f := range p.v.level(level - 1) {
		if f.MinTXID > dstMax {
			after = append(after, f)
		}
	}
	if len(after) == 0 {
		return nil, nil
	}
	// TXIDs that no file holds (a file missing or corrupt) stop the level:
	// what comes after them cannot be restored anyway.
	if next := after[0].MinTXID; dstMax > 0 && next > dstMax+1 {
		if !covered(coverage(p.v.between(0, storage.SnapshotLevel-1)), dstMax+1, next-1) {
			return nil, fmt.Errorf("%w: no file holds TXIDs %s-%s (level %d ends at %s, level %d continues at %s)",
				errGap, dstMax+1, next-1, level, dstMax, level-1, next)
		}
	}
	// From the first of them (where level N-1 continues, as Litestream
	// seeks it) as far as the files of level N-1 reach without a gap.
	chain, _, _ := cover(after, after[0].MinTXID, after[len(after)-1].MaxTXID)
	n, err := p.before(ctx, chain, cutoff)
	if err != nil {
		return nil, err
	}
	return chain[:n], nil
}

// before is how many of files, whose commit times grow, were committed
// before cutoff: a binary search reads few headers.
func (p *pass) before(ctx context.Context, files []storage.FileInfo, cutoff time.Time) (int, error) {
	var err error
	n := sort.Search(len(files), func(i int) bool {
		if err != nil {
			return true
		}
		var t time.Time
		if t, err = p.commitTime(ctx, files[i]); err != nil {
			return true
		}
		return !t.Before(cutoff)
	})
	return n, err
}
