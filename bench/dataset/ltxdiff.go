package dataset

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"io"
	"slices"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Page is one database page as a transaction left it.
type Page struct {
	Pgno uint32
	Data []byte
}

// Txn is one committed transaction, ready to become a level-0 LTX file.
type Txn struct {
	TXID      ltx.TXID
	PageSize  uint32
	Commit    uint32 // database size in pages after the transaction
	Timestamp time.Time
	Pages     []Page // the changed pages, in any order
}

// DiffPages compares two database images page by page and returns the
// pages of after that differ from before or lie beyond its end.
func DiffPages(before, after []byte, pageSize uint32) []Page {
	var pages []Page
	ps := int(pageSize)
	for off := 0; off+ps <= len(after); off += ps {
		cur := after[off : off+ps]
		if off+ps <= len(before) && bytes.Equal(before[off:off+ps], cur) {
			continue
		}
		pages = append(pages, Page{Pgno: uint32(off/ps) + 1, Data: cur})
	}
	return pages
}

// EncodeTxn writes t as an LTX file to w: pages ascending, the lock page
// and pages beyond Commit left out, no checksums tracked.
func EncodeTxn(w io.Writer, t Txn) error {
	enc, err := replica.NewEncoder(w, replica.FileHeader{
		PageSize: t.PageSize, Commit: t.Commit, MinTXID: t.TXID, MaxTXID: t.TXID, Timestamp: t.Timestamp,
	}, false)
	if err != nil {
		return err
	}
	pages := slices.Clone(t.Pages)
	slices.SortFunc(pages, func(a, b Page) int { return cmp.Compare(a.Pgno, b.Pgno) })
	lock := ltx.LockPgno(t.PageSize)
	for _, p := range pages {
		if p.Pgno == lock || p.Pgno > t.Commit {
			continue
		}
		if err := enc.WritePage(p.Pgno, p.Data); err != nil {
			enc.Abort()
			return err
		}
	}
	return enc.Close()
}

// WriteTxn encodes t and uploads it to store as the level-0 file of its
// TXID, streaming through a pipe rather than buffering the file.
func WriteTxn(ctx context.Context, store storage.Backend, t Txn) (storage.FileInfo, error) {
	f := storage.FileInfo{Level: 0, MinTXID: t.TXID, MaxTXID: t.TXID}
	pr, pw := io.Pipe()
	go func() { pw.CloseWithError(EncodeTxn(pw, t)) }()
	// The stored timestamp must equal the header's, which has ms precision.
	err := store.Write(ctx, f, time.UnixMilli(t.Timestamp.UnixMilli()), pr)
	pr.CloseWithError(err) // unblocks the encoder if the upload failed
	if err != nil {
		return f, fmt.Errorf("upload %s to %s: %w", f, store, err)
	}
	return f, nil
}
