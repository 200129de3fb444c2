package replica

import (
	"bytes"
	"context"
	"fmt"
	"io"
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
// Every file is read whole and its checksum verified; downloads run ahead
// of the in-order apply so that many small files cost about one round trip
// each in parallel rather than in sequence.
func (r *Replica) Restore(ctx context.Context, plan Plan, dst *os.File, opts RestoreOptions) error {
	if len(plan.Files) == 0 {
		return fmt.Errorf("%s: empty restore plan", r.Store)
	}
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
	put := writeTo(dst)
	for i, f := range plan.Files {
		hdr, err := r.applyFile(ctx, f, prefetched[i], release, put)
		if err != nil {
			return err
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
	return dst.Sync()
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

// pageFunc receives the pages of a file being applied, in file order. data
// is reused for the next page: keep a copy, not the slice.
type pageFunc func(pgno uint32, data []byte) error

// writeTo writes pages at their place in dst.
func writeTo(dst *os.File) pageFunc {
	return func(pgno uint32, data []byte) error {
		if _, err := dst.WriteAt(data, int64(pgno-1)*int64(len(data))); err != nil {
			return fmt.Errorf("write %s: %w", dst.Name(), err)
		}
		return nil
	}
}

// applyFile applies one file of the plan: prefetched (then release frees
// its place once its download has been received) or streamed.
func (r *Replica) applyFile(ctx context.Context, f storage.FileInfo, pre chan fetched, release func(), put pageFunc) (ltx.Header, error) {
	if pre != nil {
		var res fetched
		select {
		case res = <-pre:
			defer release()
		case <-ctx.Done():
			return ltx.Header{}, ctx.Err()
		}
		if res.err != nil {
			return ltx.Header{}, res.err
		}
		hdr, _, err := r.applyLTX(f, bytes.NewReader(res.data), put)
		return hdr, err
	}
	// A stream that breaks halfway is simply applied again from the start:
	// writing a page twice is harmless. A file that is corrupt though all
	// of it arrived is not downloaded again.
	var hdr ltx.Header
	err := r.Retry.Do(ctx, func() error {
		rc, err := r.Store.ReadRange(ctx, f, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		var g *frameGuard
		hdr, g, err = r.applyLTX(f, rc, put)
		if err != nil && (g.srcErr != nil || (g.eof && g.n < f.Size)) {
			return storage.Transient(fmt.Errorf("read %s: stream broke after %d of %d bytes: %w", f, g.n, f.Size, err))
		}
		return err
	})
	return hdr, err
}

// applyLTX decodes one whole LTX file, handing its pages to put, and
// verifies its checksum. The guard it reads through tells the caller how
// the stream ended.
func (r *Replica) applyLTX(f storage.FileInfo, src io.Reader, put pageFunc) (hdr ltx.Header, g *frameGuard, err error) {
	g = newFrameGuard(src)
	hdr, err = r.decodePages(f, g, put)
	return hdr, g, err
}

func (r *Replica) decodePages(f storage.FileInfo, src io.Reader, put pageFunc) (ltx.Header, error) {
	dec := ltx.NewDecoder(src)
	dec.SetRetainPageIndex(false)
	if err := dec.DecodeHeader(); err != nil {
		return ltx.Header{}, r.corrupt(f, fmt.Errorf("header: %w", err))
	}
	hdr := dec.Header()
	if hdr.MinTXID != f.MinTXID || hdr.MaxTXID != f.MaxTXID {
		return hdr, r.corrupt(f, fmt.Errorf("header says TXIDs %s-%s", hdr.MinTXID, hdr.MaxTXID))
	}
	buf := make([]byte, hdr.PageSize)
	for {
		var ph ltx.PageHeader
		if err := dec.DecodePage(&ph, buf); err == io.EOF {
			break
		} else if err != nil {
			return hdr, r.corrupt(f, fmt.Errorf("page: %w", err))
		}
		if err := put(ph.Pgno, buf); err != nil {
			return hdr, err
		}
	}
	if err := dec.Close(); err != nil {
		return hdr, r.corrupt(f, fmt.Errorf("verify: %w", err))
	}
	return hdr, nil
}
