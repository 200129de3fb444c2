package compact

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Which files a level takes in (the facts follow Litestream 0.5; the
// choice of the end is strata's):
//
//   - Level N continues after its own last file: its next file starts at
//     the TXID after the highest one level N holds (at the lowest TXID of
//     the levels below when level N is empty), as Litestream's compactor
//     seeks its source level.
//   - It ends at the last TXID committed before the end of the last whole
//     interval of level N (multiples of the interval, UTC), read from the
//     LTX headers. Litestream takes whatever is there when its timer fires
//     at the same multiples; ending at the boundary instead makes two
//     compactors that run in the same interval choose the same file, so
//     that exclusive creation can pick one of them.
//   - The merged files are the fewest files of the levels below N that
//     tile that range: level N-1 files where they exist (what Litestream
//     merges), lower levels where level N-1 has not caught up yet.

// compactLevel merges what level takes in next, if anything; it reports
// whether it wrote (or planned) a file.
func (p *pass) compactLevel(ctx context.Context, level int) bool {
	interval := p.c.cfg.Levels[level-1]
	cutoff := boundary(p.now, interval)
	for range maxBadRetries {
		chain, err := p.levelInputs(ctx, level, cutoff)
		if p.markBad(err) {
			continue // route around the corrupt file
		}
		if err != nil {
			p.problem(fmt.Errorf("compact level %d of %s: %w", level, p.c.rep, err))
			return false
		}
		if len(chain) == 0 {
			return false
		}
		m, err := p.merge(ctx, chain, level)
		if p.markBad(err) {
			continue
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
	p.problem(fmt.Errorf("compact level %d of %s: gave up after %d corrupt files", level, p.c.rep, maxBadRetries))
	return false
}

// errGap is matched by errors for a chain that cannot reach its end.
var errGap = errors.New("gap")

// levelInputs chooses the chain level takes in before cutoff; none if
// nothing new was committed before it.
func (p *pass) levelInputs(ctx context.Context, level int, cutoff time.Time) ([]storage.FileInfo, error) {
	var dstMax ltx.TXID
	for _, f := range p.v.level(level) {
		dstMax = max(dstMax, f.MaxTXID)
	}
	below := p.v.between(0, level-1)
	start := dstMax + 1
	if dstMax == 0 {
		if len(below) == 0 {
			return nil, nil
		}
		start = below[0].MinTXID
	}
	var rel []storage.FileInfo // files that reach past what level holds
	for _, f := range below {
		if f.MaxTXID >= start {
			rel = append(rel, f)
		}
	}
	if len(rel) == 0 {
		return nil, nil
	}
	end, err := p.lastBefore(ctx, rel, cutoff)
	if err != nil || end < start {
		return nil, err
	}
	chain, stop, ok := cover(rel, start, end)
	if !ok {
		return nil, fmt.Errorf("%w: no file below level %d holds TXID %s (level %d ends at %s, commits before %s reach %s)",
			errGap, level, stop, level, dstMax, cutoff.UTC().Format(time.RFC3339Nano), end)
	}
	return chain, nil
}

// lastBefore is the last TXID the files reach that was committed before
// cutoff (0 if none), by the commit times in their headers.
func (p *pass) lastBefore(ctx context.Context, files []storage.FileInfo, cutoff time.Time) (ltx.TXID, error) {
	txid, err := p.c.rep.TXIDAt(ctx, files, cutoff.Add(-time.Millisecond)) // header times are milliseconds
	if errors.Is(err, replica.ErrBeforeFirst) {
		return 0, nil
	}
	return txid, err
}
