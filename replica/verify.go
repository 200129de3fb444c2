package replica

import (
	"bytes"
	"context"
	"fmt"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Verify reads f whole, streaming it (memory stays bounded whatever its
// size), and checks everything the LTX format records: the checksum of
// the file, every frame, the page index against the pages, the header
// against the pages present (a file starting at TXID 1 must hold every
// page of its database). A damaged file gives a *CorruptError; a stream
// that broke off is read again (storage retry policy). A file found
// intact is remembered (LTX files are immutable) and not read again.
func (r *Replica) Verify(ctx context.Context, f storage.FileInfo) (ltx.Header, error) {
	if h, ok := r.verifiedCache().Get(f.Key()); ok {
		return h, nil
	}
	h, err := r.streamFile(ctx, f, expect{}, func(uint32, []byte) error { return nil })
	if err == nil {
		r.verifiedCache().Add(f.Key(), h)
	}
	return h, err
}

// streamFile reads f whole from storage through decodeStream. A stream
// that breaks halfway is read again from the start (sink must tolerate
// seeing pages again); a file that is corrupt though all of it arrived is
// not downloaded again.
func (r *Replica) streamFile(ctx context.Context, f storage.FileInfo, want expect, sink func(uint32, []byte) error) (ltx.Header, error) {
	var hdr ltx.Header
	err := r.Retry.Do(ctx, func() error {
		rc, err := r.Store.ReadRange(ctx, f, 0, -1)
		if err != nil {
			return err
		}
		defer rc.Close()
		g := newFrameGuard(rc)
		hdr, err = r.decodeStream(ctx, f, g, want, sink)
		if err != nil && !isInterruption(err) && (g.srcErr != nil || (g.eof && g.n < f.Size)) {
			return storage.Transient(fmt.Errorf("read %s: stream broke after %d of %d bytes: %w", f, g.n, f.Size, err))
		}
		return err
	})
	return hdr, err
}

// verifyData checks a file read whole, data, against everything the
// format records, and against x, its header and page index as parsed:
// every frame must be where the index says, so that the pages a caller
// takes from data by the index are the pages the checksum covered.
func (r *Replica) verifyData(ctx context.Context, x *FileIndex, data []byte) error {
	if int64(len(data)) != x.File.Size {
		return r.corrupt(x.File, fmt.Errorf("read %d bytes of a %d-byte file", len(data), x.File.Size))
	}
	g := newFrameGuard(bytes.NewReader(data))
	_, err := r.decodeStream(ctx, x.File, g, expect{frames: x.Frames}, func(uint32, []byte) error { return nil })
	return err
}
