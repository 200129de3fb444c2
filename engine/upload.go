package engine

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// upload encodes a file with encode and creates it in storage only if it
// does not exist: the arbiter between writers. Transient failures are
// retried with the file encoded anew; an attempt that finds the file
// already there checks whether an earlier try stored it (this session's
// NodeID and commit time) before calling it a conflict. base is the TXID
// the file builds on, for the conflict's message.
func (w *Writer) upload(ctx context.Context, base ltx.TXID, f storage.FileInfo, hdr replica.FileHeader, encode func(io.Writer) (*replica.Encoder, error)) (*replica.FileIndex, error) {
	db := w.db
	ew := db.rep.Store.(storage.ExclusiveWriter) // checked by EnableWrites
	var x *replica.FileIndex
	err := db.rep.Retry.Do(ctx, func() error {
		pr, pw := io.Pipe()
		type result struct {
			enc *replica.Encoder
			err error
		}
		done := make(chan result, 1)
		go func() {
			var enc *replica.Encoder
			err := safe.Call("encode", func() (err error) {
				enc, err = encode(pw)
				return err
			})
			pw.CloseWithError(err)
			done <- result{enc, err}
		}()
		err := ew.WriteNew(ctx, f, hdr.Timestamp, pr)
		pr.CloseWithError(err) // unblocks the encoder if the upload failed
		res := <-done
		switch {
		case err == nil && res.err == nil:
			x = res.enc.Index(f)
			return nil
		case errors.Is(err, storage.ErrExists):
			// Even on the first attempt: the storage client may have
			// retried a request whose answer was lost, and found the file
			// its own first try stored.
			if ix, ours, err := w.ownFile(ctx, f, hdr); ours {
				x = ix
				return err
			}
			return &ConflictError{URL: db.rep.String(), Base: base, Err: err}
		case err == nil:
			return res.err
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrConflict) {
		// The answer was lost but the file is there: it is stored.
		if ix, ours, ierr := w.ownFile(ctx, f, hdr); ours && ierr == nil {
			return ix, nil
		}
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("store TXID %s in %s: %w", f.MaxTXID, db.rep, err)
	}
	return x, err
}

// ownFile reports whether storage holds f as the file this session wrote
// with header hdr (an earlier try whose answer was lost), and if so
// indexes it. The index needs the stored size, which only a listing says.
func (w *Writer) ownFile(ctx context.Context, f storage.FileInfo, hdr replica.FileHeader) (*replica.FileIndex, bool, error) {
	if !w.isOurs(ctx, f, hdr) {
		return nil, false, nil
	}
	files, err := w.db.rep.List(ctx, f.Level, f.MinTXID)
	if err != nil {
		return nil, true, err
	}
	for _, g := range files {
		if g.Key() == f.Key() {
			x, err := w.db.rep.Index(ctx, g)
			return x, true, err
		}
	}
	return nil, true, fmt.Errorf("%s: %s was read back but is not listed", w.db.rep, f)
}

// isOurs reports whether f in storage is the file this session wrote
// with header hdr.
func (w *Writer) isOurs(ctx context.Context, f storage.FileInfo, hdr replica.FileHeader) bool {
	b, err := w.db.rep.ReadAt(ctx, f, 0, ltx.HeaderSize)
	if err != nil {
		return false
	}
	var got ltx.Header
	want := hdr.Header()
	return got.UnmarshalBinary(b) == nil && got.NodeID == want.NodeID && got.Timestamp == want.Timestamp &&
		got.Commit == want.Commit && got.PageSize == want.PageSize
}

// publishStored publishes the view of base with the stored file x applied
// (base has no pending commits). If the poller found x first and
// published it, that view is returned.
func (w *Writer) publishStored(base *View, x *replica.FileIndex) (*View, error) {
	db := w.db
	src := fileSource(x)
	db.indexes.Add(x.File.Key(), src)
	next, err := base.apply([]*source{src})
	if err != nil {
		return nil, err
	}
	next.counter = db.nextCounter()
	if !db.publish(base, next, []*source{src}) {
		latest := db.Latest()
		if latest.txid < x.Header.MaxTXID {
			return nil, fmt.Errorf("%s: TXID %s was stored but the latest view moved to TXID %s meanwhile", db.rep, x.Header.MaxTXID, latest.txid)
		}
		next = latest
	}
	w.confirm()
	return next, nil
}
