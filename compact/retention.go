package compact

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Retention follows Litestream 0.5's rules:
//
//   - Snapshots whose creation time is older than SnapshotRetention are
//     deleted, except the newest. The creation time is what a listing
//     gives: the file's modification time (the header's commit time for
//     files that strata and Litestream write) or S3's LastModified.
//   - The floor is the TXID of the snapshot just before the oldest one
//     kept. Files of levels 1-8 that end before it are deleted, except the
//     last file of each level; files that straddle it stay, so that a
//     restore planned from the deleted snapshot a moment ago still finds
//     its files.
//   - A level-0 file is deleted once files of levels 1-8 cover its TXIDs
//     and it is older than L0Retention. The scan stops at the first
//     younger level-0 file, so that the level-0 files kept are contiguous,
//     and the newest level-0 file stays.
//
// strata adds a repair: a file of levels 1-8 that another file of its level
// contains (two compactors raced and both wrote) is deleted once it is
// older than L0Retention, like a level-0 file.
//
// And strata adds a check to every deletion: the TXIDs from the floor up to
// the latest that the files cover before the deletion must still be
// covered after it, and the latest state must stay reachable. A file whose
// deletion would break that is kept and reported; and a file only counts
// as a cover if its header is valid, so that a junk file with an LTX name
// never gets the files it seems to cover deleted.

// snapshotRetention deletes old snapshots and the files that led up to
// them.
func (p *pass) snapshotRetention(ctx context.Context) {
	keep := p.c.cfg.SnapshotRetention
	if keep < 0 {
		return
	}
	snaps := p.v.level(storage.SnapshotLevel)
	if len(snaps) < 2 {
		return
	}
	threshold := p.now.Add(-keep)
	old := make(map[storage.FileKey]bool)
	for _, s := range snaps[:len(snaps)-1] { // the newest always stays
		if !s.ModTime.IsZero() && s.ModTime.Before(threshold) {
			old[s.Key()] = true
		}
	}
	if len(old) == 0 {
		return
	}
	var floor ltx.TXID
	var base storage.FileInfo // the oldest snapshot kept
	for i, s := range snaps {
		if !old[s.Key()] {
			base = s
			if i > 0 {
				floor = snaps[i-1].MaxTXID
			}
			break
		}
	}
	// The snapshots deleted are only replaced if the one kept is real.
	if err := p.checkHeader(ctx, base); err != nil {
		if !p.markBad(err) && !p.vanished(ctx, err) {
			p.problem(fmt.Errorf("snapshot retention of %s: %w", p.c.rep, err))
		}
		return
	}
	var del []Deletion
	for _, s := range snaps {
		if old[s.Key()] {
			del = append(del, Deletion{s, fmt.Sprintf("snapshot older than %s; newer snapshot %s kept", keep, snaps[len(snaps)-1])})
		}
	}
	if floor > 0 {
		for level := 1; level < storage.SnapshotLevel; level++ {
			files := p.v.level(level)
			for _, f := range files[:max(len(files)-1, 0)] { // the last file of a level stays
				if f.MaxTXID < floor {
					del = append(del, Deletion{f, fmt.Sprintf("ends before TXID %s, the deleted snapshot's (the oldest state kept is snapshot %s)", floor, base)})
				}
			}
		}
	}
	p.delete(ctx, del, floor+1)
}

// l0Retention deletes level-0 files that higher levels cover, once they
// are older than L0Retention.
func (p *pass) l0Retention(ctx context.Context) {
	keep := p.c.cfg.L0Retention
	if keep < 0 {
		return
	}
	for range maxRetries {
		del, err := p.l0Candidates(ctx, keep)
		if p.markBad(err) || p.vanished(ctx, err) {
			continue // a cover was junk or is gone: compute again
		}
		if err != nil {
			p.problem(fmt.Errorf("level-0 retention of %s: %w", p.c.rep, err))
			return
		}
		p.delete(ctx, del, 1)
		return
	}
}

func (p *pass) l0Candidates(ctx context.Context, keep time.Duration) ([]Deletion, error) {
	l0 := p.v.level(0)
	upper := p.v.between(1, storage.SnapshotLevel-1)
	cov := coverage(upper)
	threshold := p.now.Add(-keep)
	var del []Deletion
	all := true
	for _, f := range l0 {
		if f.ModTime.After(threshold) {
			all = false
			break
		}
		if covered(cov, f.MinTXID, f.MaxTXID) {
			del = append(del, Deletion{f, fmt.Sprintf("compacted into a higher level, older than %s", keep)})
		}
	}
	if all && len(del) > 0 && del[len(del)-1].File.Key() == l0[len(l0)-1].Key() {
		del = del[:len(del)-1]
	}
	if len(del) == 0 {
		return nil, nil
	}
	// Every file that covers a candidate must be a real LTX file.
	lo, hi := del[0].File.MinTXID, del[len(del)-1].File.MaxTXID
	for _, f := range upper {
		if f.MaxTXID >= lo && f.MinTXID <= hi {
			if err := p.checkHeader(ctx, f); err != nil {
				return nil, err
			}
		}
	}
	return del, nil
}

// duplicates deletes files of levels 1-8 that two compactors wrote for
// overlapping ranges, once older than L0Retention: of each level it keeps
// the chain of files that reaches furthest (where each file starts right
// after the one before it ends) and deletes the files beside that chain
// whose TXIDs the chain holds.
func (p *pass) duplicates(ctx context.Context) {
	keep := p.c.cfg.L0Retention
	if keep < 0 {
		return
	}
	threshold := p.now.Add(-keep)
	var del []Deletion
	for level := 1; level < storage.SnapshotLevel; level++ {
		files := p.v.level(level)
		path := longestChain(files)
		if len(path) == len(files) {
			continue
		}
		on := make(map[storage.FileKey]bool, len(path))
		for _, f := range path {
			on[f.Key()] = true
		}
		cov := coverage(path)
		for _, f := range files {
			if on[f.Key()] || !covered(cov, f.MinTXID, f.MaxTXID) || !f.ModTime.Before(threshold) {
				continue
			}
			// The files that hold its TXIDs instead must be real.
			for _, g := range path {
				if g.MaxTXID >= f.MinTXID && g.MinTXID <= f.MaxTXID {
					if err := p.checkHeader(ctx, g); err != nil {
						if !p.markBad(err) && !p.vanished(ctx, err) {
							p.problem(fmt.Errorf("check %s of %s: %w", g, p.c.rep, err))
						}
						return
					}
				}
			}
			del = append(del, Deletion{f, fmt.Sprintf("duplicate: other files of level %d hold TXIDs %s-%s (two compactors raced)", level, f.MinTXID, f.MaxTXID)})
		}
	}
	p.delete(ctx, del, 1)
}

// delete removes files after checking that the TXIDs from protectFrom to
// the latest stay covered and the latest state stays reachable.
func (p *pass) delete(ctx context.Context, del []Deletion, protectFrom ltx.TXID) {
	del = p.safe(del, protectFrom)
	if len(del) == 0 {
		return
	}
	files := make([]storage.FileInfo, len(del))
	keys := make(map[storage.FileKey]bool, len(del))
	for i, d := range del {
		files[i] = d.File
		keys[d.File.Key()] = true
	}
	if !p.dry {
		err := p.c.rep.Retry.Do(ctx, func() error { return p.c.rep.Store.Delete(ctx, files) })
		if err != nil {
			if ctx.Err() == nil {
				p.problem(fmt.Errorf("delete %d files of %s: %w", len(files), p.c.rep, err))
			}
			return
		}
		p.c.cfg.Logger.Info("deleted", "replica", p.c.rep.String(), "files", len(files), "first", files[0].String(), "last", files[len(files)-1].String())
	}
	p.v.remove(keys)
	p.rep.Deleted = append(p.rep.Deleted, del...)
}

// safe drops from del every file whose deletion would uncover a TXID from
// protectFrom on, or make the latest state unreachable.
func (p *pass) safe(del []Deletion, protectFrom ltx.TXID) []Deletion {
	latest := p.v.latest()
	before := coverage(nonSnapshots(p.v.files))
	for len(del) > 0 {
		lost := uncovered(before, coverage(nonSnapshots(p.without(del))), protectFrom, latest)
		if len(lost) == 0 {
			break
		}
		kept := del[:0:0]
		for _, d := range del {
			if r, hit := overlaps(d.File, lost); hit {
				p.kept(d, fmt.Sprintf("the only cover of TXIDs %s-%s", r.lo, r.hi))
				continue
			}
			kept = append(kept, d)
		}
		del = kept
	}
	if len(del) == 0 {
		return nil
	}
	if _, err := replica.BuildPlan(p.v.files, 0); err != nil {
		return del // nothing reachable before either: coverage is the guard
	}
	if _, err := replica.BuildPlan(p.without(del), 0); err == nil {
		return del
	}
	// Some of them are on the only way to the latest state: keep those,
	// one by one.
	var ok []Deletion
	for _, d := range del {
		if _, err := replica.BuildPlan(p.without(append(ok, d)), 0); err != nil {
			p.kept(d, fmt.Sprintf("on the only chain of files to the latest state (%v)", err))
			continue
		}
		ok = append(ok, d)
	}
	return ok
}

// kept notes a file retention would delete and keeps.
func (p *pass) kept(d Deletion, why string) {
	p.rep.Kept = append(p.rep.Kept, Deletion{d.File, why + "; retention would delete it: " + d.Reason})
	p.c.cfg.Logger.Debug("kept", "replica", p.c.rep.String(), "file", d.File.String(), "why", why)
}

func (p *pass) without(del []Deletion) []storage.FileInfo {
	gone := make(map[storage.FileKey]bool, len(del))
	for _, d := range del {
		gone[d.File.Key()] = true
	}
	var out []storage.FileInfo
	for _, f := range p.v.files {
		if !gone[f.Key()] {
			out = append(out, f)
		}
	}
	return out
}

func nonSnapshots(files []storage.FileInfo) []storage.FileInfo {
	var out []storage.FileInfo
	for _, f := range files {
		if f.Level != storage.SnapshotLevel {
			out = append(out, f)
		}
	}
	return out
}

func overlaps(f storage.FileInfo, rs []txRange) (txRange, bool) {
	if f.Level == storage.SnapshotLevel {
		return txRange{}, false
	}
	for _, r := range rs {
		if f.MinTXID <= r.hi && f.MaxTXID >= r.lo {
			return r, true
		}
	}
	return txRange{}, false
}
