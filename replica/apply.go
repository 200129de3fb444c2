package replica

import (
	"bytes"
	"context"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// ApplyOptions tune ApplyFiles.
type ApplyOptions struct {
	// Parallel is how many small files are downloaded ahead of the one
	// being applied (default 8).
	Parallel int
	// Chain says that each file builds on the one before it in the list,
	// as the files of a plan do: a file that grows the database is then
	// checked to hold every page it adds, as Restore checks.
	Chain bool
}

// ApplyFiles reads files whole, in order, as Restore does (small files
// downloaded ahead of the one being applied, larger ones streamed at their
// turn), verifies each (see Verify), and hands each page to page. After
// the last page of file i is handed out and the file verified, done is
// called with i and the file's header. page's data is reused for the next
// page: copy it to keep it. A stream that breaks is read again from its
// start, so page may see a page more than once (writing a page twice is
// harmless); a file that fails verification has had pages handed out
// before the error. Errors returned by page or done end the apply and are
// returned as they are, so callers can tell their own errors from
// storage's.
func (r *Replica) ApplyFiles(ctx context.Context, files []storage.FileInfo, opts ApplyOptions, page func(pgno uint32, data []byte) error, done func(i int, hdr ltx.Header) error) error {
	ctx, cancel := context.WithCancel(ctx)
	par := opts.Parallel
	if par <= 0 {
		par = 8
	}
	prefetched, release, wait := r.prefetch(ctx, files, par)
	defer wait()
	defer cancel() // runs first: stops the downloads that wait then waits for
	var last ltx.Header
	for i, f := range files {
		want := expect{size: last.Commit, known: opts.Chain && i > 0}
		hdr, err := r.applyFile(ctx, f, prefetched[i], release, want, page)
		if err != nil {
			return err
		}
		last = hdr
		if err := done(i, hdr); err != nil {
			return err
		}
	}
	return nil
}

// DecodeFile decodes the LTX file f, already read whole into data, handing
// each page to page (data reused: copy it to keep it), and verifies it.
func (r *Replica) DecodeFile(ctx context.Context, f storage.FileInfo, data []byte, page func(pgno uint32, data []byte) error) (ltx.Header, error) {
	return r.decodeStream(ctx, f, newFrameGuard(bytes.NewReader(data)), expect{}, page)
}
