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
// Plan.Warnings, and the plan built again without it, as long as another
// chain of files exists:
//
//   - a file whose header is not a valid LTX header for its name is junk,
//     not a commit: it is simply left out, even when it looked like the
//     newest file;
//   - a file with a valid header but damaged content is a commit that
//     happened: the plan is rebuilt for the same TXID, never an older one,
//     so leaving a file out never moves the result back in time without
//     a word. When no other chain reaches that TXID, the error says so and
//     wraps the *CorruptError.
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
			bad.Add(ce.File)
			left, last = append(left, err), ce
			if plan.TXID != 0 && r.validHeader(ctx, ce.File) {
				t = AtTXID(plan.TXID) // a damaged commit: its state may not be skipped
			}
		case errors.Is(err, ErrUnreachable) && t.IsLatest() && r.leaveOutJunk(ctx, bad.Filter(files), bad, &left):
			// Files past a gap were junk: plan again without them.
		case last != nil:
			return Plan{}, fmt.Errorf("%w; no other chain of files reaches %s: %w", last, t, err)
		default:
			return Plan{}, err
		}
	}
	return Plan{}, fmt.Errorf("%s: gave up planning around corrupt files: %w", r.Store, last)
}

// validHeader reports whether f has a valid LTX header for its name.
func (r *Replica) validHeader(ctx context.Context, f storage.FileInfo) bool {
	_, err := r.ParsedHeader(ctx, f)
	return err == nil
}

// leaveOutJunk reads the headers of the files past the newest state a
// chain reaches, and adds those that are not LTX files to bad. It reports
// whether it found any.
func (r *Replica) leaveOutJunk(ctx context.Context, files []storage.FileInfo, bad *BadFiles, left *[]error) bool {
	sorted := append([]storage.FileInfo(nil), files...)
	storage.SortFiles(sorted)
	var reach ltx.TXID
	if rs := reachable(sorted); len(rs) > 0 {
		reach = rs[len(rs)-1]
	}
	found, checked := false, 0
	for _, f := range sorted {
		if f.MaxTXID <= reach || checked == maxJunkChecks {
			continue
		}
		checked++
		_, err := r.ParsedHeader(ctx, f)
		var ce *CorruptError
		if errors.As(err, &ce) {
			bad.Add(f)
			*left = append(*left, err)
			found = true
		}
	}
	return found
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
