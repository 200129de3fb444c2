package replica

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"sync"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// RestoreOptions tunes Restore.
type RestoreOptions struct {
	// Progress, when set, is called after each file with bytes applied
	// so far and the plan's total.
	Progress func(done, total int64)
	// Parallel is how many files are downloaded ahead of the one being
	// applied (default 8).
	Parallel int
}

// maxPrefetch is the largest file downloaded into memory ahead of its
// turn; larger files are streamed when they are applied.
const maxPrefetch = 16 << 20

// Restore writes the database of plan into dst, which should be empty.
// Every file is read whole and verified (see Verify), and the chain is
// checked as it is applied: one page size, every page a file's Commit adds
// present in it, and the database size recorded in page 1 equal to the
// last file's Commit. Downloads run ahead of the in-order apply so that
// many small files cost about one round trip each in parallel rather than
// in sequence.
//
// ctx is checked between pages: a cancelled restore returns an error
// matching ctx.Err() (errors.Is context.Canceled), not a *CorruptError.
// On any failure dst is truncated to zero bytes: no partial database is
// left in it.
func (r *Replica) Restore(ctx context.Context, plan Plan, dst *os.File, opts RestoreOptions) (err error) {
	if len(plan.Files) == 0 {
		return fmt.Errorf("%s: empty restore plan", r.Store)
	}
	defer func() {
		if err != nil {
			_ = dst.Truncate(0) // best effort: the error says what went wrong
		}
	}()
	ctx, cancel := context.WithCancel(ctx)
	par := opts.Parallel
	if par <= 0 {
		par = 8
	}
	prefetched, release, wait := r.prefetch(ctx, plan.Files, par)
	defer wait()
	defer cancel() // runs first: stops the downloads that wait then waits for

	var total, done int64
	for _, f := range plan.Files {
		total += f.Size
	}
	var last ltx.Header
	var page1 storage.FileInfo // the file that last wrote page 1
	for i, f := range plan.Files {
		want := expect{size: last.Commit, known: i > 0}
		sink := func(pgno uint32, page []byte) error {
			if i > 0 && pgno == 1 {
				page1 = f
			}
			if _, err := dst.WriteAt(page, int64(pgno-1)*int64(len(page))); err != nil {
				return fmt.Errorf("write %s: %w", dst.Name(), err)
			}
			return nil
		}
		if i == 0 {
			page1 = f
		}
		hdr, err := r.applyFile(ctx, f, prefetched[i], release, want, sink)
		if err != nil {
			return err
		}
		if i > 0 && hdr.PageSize != last.PageSize {
			return r.corrupt(f, fmt.Errorf("page size %d, but %s before it has %d (only a complete database may change it)", hdr.PageSize, plan.Files[i-1], last.PageSize))
		}
		last = hdr
		done += f.Size
		if opts.Progress != nil {
			opts.Progress(done, total)
		}
	}
	if err := dst.Truncate(int64(last.Commit) * int64(last.PageSize)); err != nil {
		return fmt.Errorf("truncate %s: %w", dst.Name(), err)
	}
	if err := r.checkRestored(dst, last, plan.Files[len(plan.Files)-1], page1); err != nil {
		return err
	}
	return dst.Sync()
}

// checkRestored compares the database size page 1 records with the last
// file's Commit: a header that says fewer pages than the database has
// would otherwise cut it short without a word.
func (r *Replica) checkRestored(dst *os.File, last ltx.Header, lastFile, page1From storage.FileInfo) error {
	if last.Commit == 0 {
		return nil
	}
	page := make([]byte, last.PageSize)
	if _, err := dst.ReadAt(page, 0); err != nil {
		return fmt.Errorf("read back %s: %w", dst.Name(), err)
	}
	if err := checkPage1(page, last.Commit); err != nil {
		return r.corrupt(lastFile, fmt.Errorf("%w (page 1 comes from %s)", err, page1From))
	}
	return nil
}

type fetched struct {
	data []byte
	err  error
}

// prefetch downloads small files ahead of their turn, each into its own
// channel; a nil channel means "stream it when its turn comes". At most
// par files are downloading or downloaded but not yet applied: the caller
// calls release once it has applied a prefetched file. wait returns once
// every download goroutine has ended (cancel ctx first).
func (r *Replica) prefetch(ctx context.Context, files []storage.FileInfo, par int) (out []chan fetched, release, wait func()) {
	out = make([]chan fetched, len(files))
	sem := make(chan struct{}, par)
	for i, f := range files {
		if f.Size <= maxPrefetch && f.Size > 0 {
			out[i] = make(chan fetched, 1)
		}
	}
	var wg sync.WaitGroup
	wg.Go(func() {
		for i, f := range files {
			if out[i] == nil {
				continue
			}
			select {
			case sem <- struct{}{}:
			case <-ctx.Done():
				return
			}
			wg.Go(func() {
				data, err := r.ReadAt(ctx, f, 0, f.Size)
				out[i] <- fetched{data, err}
			})
		}
	})
	return out, func() { <-sem }, wg.Wait
}

// applyFile applies one file of the plan: prefetched (then release frees
// its place once its download has been received) or streamed.
func (r *Replica) applyFile(ctx context.Context, f storage.FileInfo, pre chan fetched, release func(), want expect, sink func(uint32, []byte) error) (ltx.Header, error) {
	if pre == nil {
		// A stream that breaks halfway is applied again from the start:
		// writing a page twice is harmless.
		return r.streamFile(ctx, f, want, sink)
	}
	var res fetched
	select {
	case res = <-pre:
		defer release()
	case <-ctx.Done():
		return ltx.Header{}, interrupted(r, f, ctx.Err())
	}
	if res.err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return ltx.Header{}, interrupted(r, f, cerr)
		}
		return ltx.Header{}, res.err
	}
	return r.decodeStream(ctx, f, newFrameGuard(bytes.NewReader(res.data)), want, sink)
}
