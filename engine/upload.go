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
// retried with the file encoded anew; a retry that finds the file already
// there checks whether an earlier attempt stored it (this session's
// NodeID and commit time) before calling it a conflict. base is the TXID
// the file builds on, for the conflict's message.
func (w *Writer) upload(ctx context.Context, base ltx.TXID, f storage.FileInfo, hdr replica.FileHeader, encode func(io.Writer) (*replica.Encoder, error)) (*replica.FileIndex, error) {
	db := w.db
	ew := db.rep.Store.(storage.ExclusiveWriter) // checked by EnableWrites
	var x *replica.FileIndex
	attempts := 0
	err := db.rep.Retry.Do(ctx, func() error {
		attempts++
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
			if attempts > 1 && w.isOurs(ctx, f, hdr) {
				x, err = db.rep.Index(ctx, f)
				return err
			}
			return &ConflictError{URL: db.rep.String(), Base: base, Err: err}
		case err == nil:
			return res.err
		}
		return err
	})
	if err != nil && !errors.Is(err, ErrConflict) && w.isOurs(ctx, f, hdr) {
		// The answer was lost but the file is there: it is stored.
		if ix, ierr := db.rep.Index(ctx, f); ierr == nil {
			return ix, nil
		}
	}
	if err != nil && !errors.Is(err, ErrConflict) {
		return nil, fmt.Errorf("store TXID %s in %s: %w", f.MaxTXID, db.rep, err)
	}
	return x, err
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
