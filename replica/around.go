package replica

import (
	"context"
	"errors"
	"fmt"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// maxJunkChecks bounds the headers read to find junk past a gap.
const maxJunkChecks = 64

// PlanAround builds the plan of t from files, leaving out the files in bad
// (nil: none), and calls use with it (to index its files, or restore them).
// When planning or use fails because a file of the listing is corrupt
// (a *CorruptError), the file is added to bad, reported in
// Plan.Warnings, and the plan built again without it for the same TXID:
// another chain of files (a compacted file and the level-0 files it
// merged, or the reverse) may reach it. Leaving a file out never moves
// the result back in time: the latest state is the newest TXID the
// listing reaches, and when only the corrupt file reaches it, the error
// says so and wraps the *CorruptError (restore -txid N can then ask for
// an older state on purpose). Junk past a gap in the TXIDs is named the
// same way. For a time target, a corrupt file whose commit time the
// decision needs is an error, unless another file ends at the same TXID.
//
// Errors that are not corruption (storage, interruption) are returned as
// they are.
func (r *Replica) PlanAround(ctx context.Context, files []storage.FileInfo, t Target, bad *BadFiles, use func(Plan) error) (Plan, error) {
	if bad == nil {
		bad = NewBadFiles(0, 0)
	}
	var left []error // the corrupt files left out, for Plan.Warnings
	var last *CorruptError
	for range len(files) + 1 {
		plan, err := r.PlanFiles(ctx, bad.Filter(files), t)
		if err == nil {
			t = AtTXID(plan.TXID) // from now on: this state or none
			if err = use(plan); err == nil {
				plan.Warnings = append(left, plan.Warnings...)
				return plan, nil
			}
		}
		var ce *CorruptError
		switch {
		case isInterruption(err):
			return Plan{}, err
		case errors.As(err, &ce) && listed(files, ce.File):
			if _, atTime := t.Time(); atTime && !endsElsewhere(bad.Filter(files), ce.File) {
				// A commit time the decision needs, known from this file
				// only: without it the answer could be another state.
				return Plan{}, err
			}
			bad.Add(ce.File)
			left, last = append(left, err), ce
		case last != nil:
			return Plan{}, fmt.Errorf("%w; no other chain of files reaches %s: %w", last, t, err)
		case errors.Is(err, ErrUnreachable) && t.IsLatest():
			if junk := r.junkBeyond(ctx, bad.Filter(files)); junk != nil {
				return Plan{}, fmt.Errorf("%w; it is past the newest state a chain of files reaches: %w", junk, err)
			}
			return Plan{}, err
		default:
			return Plan{}, err
		}
	}
	return Plan{}, fmt.Errorf("%s: gave up planning around corrupt files: %w", r.Store, last)
}

// junkBeyond reads the headers of the files past the newest state a chain
// reaches (a few), and returns the error of the first that is corrupt.
func (r *Replica) junkBeyond(ctx context.Context, files []storage.FileInfo) error {
	sorted := append([]storage.FileInfo(nil), files...)
	storage.SortFiles(sorted)
	var reach ltx.TXID
	if rs := reachable(sorted); len(rs) > 0 {
		reach = rs[len(rs)-1]
	}
	checked := 0
	for _, f := range sorted {
		if f.MaxTXID <= reach {
			continue
		}
		if checked++; checked > maxJunkChecks {
			break
		}
		var ce *CorruptError
		if _, err := r.ParsedHeader(ctx, f); errors.As(err, &ce) {
			return err
		}
	}
	return nil
}

// endsElsewhere reports whether another file of files ends at f's TXID
// (and so carries its commit time).
func endsElsewhere(files []storage.FileInfo, f storage.FileInfo) bool {
	for _, g := range files {
		if g.MaxTXID == f.MaxTXID && g.Key() != f.Key() {
			return true
		}
	}
	return false
}

// listed reports whether f is one of files (by level and TXIDs).
func listed(files []storage.FileInfo, f storage.FileInfo) bool {
	for _, g := range files {
		if g.Key() == f.Key() {
			return true
		}
	}
	return false
}
