package replica

import (
	"bytes"
	"context"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// ApplyFiles reads files whole, in order, as Restore does (small files
// downloaded up to par ahead of the one being applied, default 8; larger
// ones streamed at their turn), and hands each page to page. After the
// last page of file i is handed out and the file's checksum verified, done
// is called with i and the file's header. page's data is reused for the
// next page: copy it to keep it. A stream that breaks is read again from
// its start, so page may see a page more than once (writing a page twice
// is harmless); a file whose checksum fails has had its pages handed out
// before the error. Errors returned by page or done end the apply and are
// returned as they are, so callers can tell their own errors from
// storage's.
func (r *Replica) ApplyFiles(ctx context.Context, files []storage.FileInfo, par int, page func(pgno uint32, data []byte) error, done func(i int, hdr ltx.Header) error) error {
	ctx, cancel := context.WithCancel(ctx)
	if par <= 0 {
		par = 8
	}
	prefetched, release, wait := r.prefetch(ctx, files, par)
	defer wait()
	defer cancel() // runs first: stops the downloads that wait then waits for
	for i, f := range files {
		hdr, err := r.applyFile(ctx, f, prefetched[i], release, page)
		if err != nil {
			return err
		}
		if err := done(i, hdr); err != nil {
			return err
		}
	}
	return nil
}

// DecodeFile decodes the LTX file f, already read whole into data, handing
// each page to page (data reused: copy it to keep it), and verifies its
// checksum.
func (r *Replica) DecodeFile(f storage.FileInfo, data []byte, page func(pgno uint32, data []byte) error) (ltx.Header, error) {
	hdr, _, err := r.applyLTX(f, bytes.NewReader(data), page)
	return hdr, err
}
