package replica

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// Moment is the state TXIDAt found for a time.
type Moment struct {
	TXID ltx.TXID
	Time time.Time // commit time of TXID, from its file's header
	// Warnings says what the caller should pass on to the user: a
	// *TimestampOrderError when commit times go back somewhere before
	// the moment asked for.
	Warnings []error
}

// ErrTimestampOrder is matched by a *TimestampOrderError.
var ErrTimestampOrder = errors.New("commit timestamps go back in time")

// TimestampOrderError reports commit times that are not monotonic: a
// writer whose clock stepped back, or a damaged timestamp in a file that
// could not be verified whole. First is the first such step among the
// files read; Steps counts them.
type TimestampOrderError struct {
	URL       string
	First     storage.FileInfo // stamped FirstTime ...
	FirstTime time.Time
	Next      storage.FileInfo // ... and the file after it, stamped earlier
	NextTime  time.Time
	Steps     int
}

func (e *TimestampOrderError) Error() string {
	return fmt.Sprintf("%s: commit timestamps are not monotonic: %s is stamped %s, %s after it is stamped %s (%d step(s) back in the files read); "+
		"the state chosen is the last one before the first commit stamped after the time asked for",
		e.URL, e.First, e.FirstTime.UTC().Format(time.RFC3339Nano), e.Next, e.NextTime.UTC().Format(time.RFC3339Nano), e.Steps)
}

func (e *TimestampOrderError) Unwrap() error { return ErrTimestampOrder }

// Bounds of the work TXIDAt does.
const (
	headerBatch     = 128      // headers read per round, in TXID order
	headerParallel  = 16       // of which this many at once
	maxVerifySize   = 16 << 20 // larger files are trusted by their header alone
	maxVerifiedStep = 8        // steps back whose files are verified whole
)

// TXIDAt is the state as of ts: the last TXID before the first commit
// stamped after ts, so that no state it returns holds a commit stamped
// after ts even when timestamps are not monotonic (a writer's clock that
// stepped back). Each distinct end TXID counts with the header of its
// lowest-level file (level 0 carries each commit's own time).
//
// It reads the headers in TXID order up to the first one stamped after
// ts (cached per Replica, so time travel pays this once per process),
// and verifies whole the files the decision rests on: the last one taken,
// the first one left out, and both sides of every step back in time (up
// to maxVerifiedStep, files up to maxVerifySize): a damaged timestamp is
// then a *CorruptError, not a wrong state. Steps back are reported in
// Moment.Warnings.
func (r *Replica) TXIDAt(ctx context.Context, files []storage.FileInfo, ts time.Time) (Moment, error) {
	ends := endpoints(files)
	if len(ends) == 0 {
		return Moment{}, fmt.Errorf("%s: %w", r.Store, ErrEmpty)
	}
	stamps, boundary, err := r.stampsUntil(ctx, ends, ts)
	if err != nil {
		return Moment{}, err
	}
	var steps []int // j: ends[j] is stamped after ends[j+1]
	for j := 0; j+1 < len(stamps); j++ {
		if stamps[j].After(stamps[j+1]) {
			steps = append(steps, j)
		}
	}
	check := []int{boundary - 1, boundary}
	for _, j := range steps[:min(len(steps), maxVerifiedStep)] {
		check = append(check, j, j+1)
	}
	for _, i := range check {
		if i < 0 || i >= len(ends) || ends[i].Size > maxVerifySize {
			continue
		}
		if _, err := r.Verify(ctx, ends[i]); err != nil {
			return Moment{}, err
		}
	}
	if boundary == 0 {
		return Moment{}, fmt.Errorf("%s: timestamp %s is %w (TXID %s, committed %s)", r.Store,
			ts.UTC().Format(time.RFC3339Nano), ErrBeforeFirst, ends[0].MaxTXID, stamps[0].UTC().Format(time.RFC3339Nano))
	}
	m := Moment{TXID: ends[boundary-1].MaxTXID, Time: stamps[boundary-1]}
	if len(steps) > 0 {
		j := steps[0]
		m.Warnings = append(m.Warnings, &TimestampOrderError{URL: r.Store.String(),
			First: ends[j], FirstTime: stamps[j], Next: ends[j+1], NextTime: stamps[j+1], Steps: len(steps)})
	}
	return m, nil
}

// stampsUntil reads the commit times of ends in order, a batch at a time,
// until one is after ts. boundary is the index of that one (len(ends)
// when none is); stamps holds at least ends[:boundary+1].
func (r *Replica) stampsUntil(ctx context.Context, ends []storage.FileInfo, ts time.Time) (stamps []time.Time, boundary int, err error) {
	stamps = make([]time.Time, 0, min(len(ends), headerBatch))
	for start := 0; start < len(ends); start += headerBatch {
		batch := ends[start:min(start+headerBatch, len(ends))]
		got := make([]time.Time, len(batch))
		errs := make([]error, len(batch))
		var g errgroup.Group
		g.SetLimit(headerParallel)
		for i, f := range batch {
			g.Go(func() error {
				h, err := r.ParsedHeader(ctx, f)
				got[i], errs[i] = time.UnixMilli(h.Timestamp), err
				return nil
			})
		}
		_ = g.Wait()
		// In order: a bad header past the first commit after ts does
		// not matter.
		for i, t := range got {
			if errs[i] != nil {
				return nil, 0, errs[i]
			}
			stamps = append(stamps, t)
			if t.After(ts) {
				return stamps, start + i, nil
			}
		}
	}
	return stamps, len(ends), nil
}

// endpoints returns one file per distinct MaxTXID, in TXID order,
// preferring the lowest level: level-0 files carry the commit's own time.
func endpoints(files []storage.FileInfo) []storage.FileInfo {
	byEnd := make(map[ltx.TXID]storage.FileInfo)
	for _, f := range files {
		if cur, ok := byEnd[f.MaxTXID]; !ok || f.Level < cur.Level {
			byEnd[f.MaxTXID] = f
		}
	}
	out := make([]storage.FileInfo, 0, len(byEnd))
	for _, f := range byEnd {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MaxTXID < out[j].MaxTXID })
	return out
}
