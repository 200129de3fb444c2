package engine

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"slices"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Txn is one write transaction: the pages a connection wrote since it took
// the write lock, over the view it began on (base). Its methods are called
// by the connection that owns it, one at a time.
type Txn struct {
	w        *Writer
	base     *View
	size     uint32 // database size in pages as the transaction left it
	pageSize uint32

	// doomed is why a commit failed: SQLite rolls the transaction back,
	// and whatever it syncs from then on is that rollback, not a commit.
	doomed error
	// committed is the view the transaction's commit published.
	committed *View
	// journalRead says SQLite read its rollback journal during the
	// transaction: a rollback that wrote the original pages back. A sync
	// then may carry pages equal to the base, which are not committed.
	journalRead atomic.Bool
}

// Base is the view the transaction began on.
func (t *Txn) Base() *View { return t.base }

// PageSize is the page size of the transaction's pages (0 before the
// first write to an empty replica).
func (t *Txn) PageSize() uint32 { return t.pageSize }

// Size is the database size in bytes as the transaction left it.
func (t *Txn) Size() int64 { return int64(t.size) * int64(t.pageSize) }

// MarkJournalRead records that SQLite read the transaction's journal.
func (t *Txn) MarkJournalRead() { t.journalRead.Store(true) }

// WritePage stores a whole page.
func (t *Txn) WritePage(pgno uint32, data []byte) error {
	ps := uint32(len(data))
	switch {
	case t.pageSize == 0:
		if !ltx.IsValidPageSize(ps) {
			return fmt.Errorf("write of %d bytes: not a page size", ps)
		}
		t.pageSize = ps
	case ps != t.pageSize:
		return fmt.Errorf("a write of %d-byte pages to a database of %d-byte pages: changing the page size of a replica is not supported (restore it, change it locally, import it into a new replica)", ps, t.pageSize)
	}
	if pgno == 0 || pgno == ltx.LockPgno(t.pageSize) {
		return fmt.Errorf("write of page %d refused: the lock page is never stored", pgno)
	}
	if err := t.w.ov.put(pgno, data); err != nil {
		return err
	}
	t.size = max(t.size, pgno)
	return nil
}

// ReadPage reads page pgno into buf if the transaction wrote it.
func (t *Txn) ReadPage(pgno uint32, buf []byte) (bool, error) {
	if pgno > t.size {
		return false, nil
	}
	return t.w.ov.get(pgno, buf)
}

// Truncate sets the database size in pages.
func (t *Txn) Truncate(pages uint32) {
	t.size = pages
	t.w.ov.drop(pages)
}

// End releases the write lock; uncommitted pages are dropped.
func (t *Txn) End() { t.w.end(t) }

// Commit stores the transaction as the next level-0 LTX file and publishes
// the state it makes as the latest view, which it returns. A commit with
// nothing to store returns the base view. After a failed commit the
// transaction is doomed: SQLite rolls it back, and later calls return the
// base view without storing anything.
func (t *Txn) Commit(ctx context.Context) (*View, error) {
	switch {
	case t.committed != nil:
		return t.committed, nil
	case t.doomed != nil:
		return t.base, nil
	}
	v, err := t.commit(ctx)
	if err != nil {
		t.doomed = err
		if errors.Is(err, ErrConflict) && t.w.opts.Sync == 0 {
			// Another writer moved the replica: the next transaction must
			// start from its state, not from this one's base again (which
			// would conflict again until the poller's next tick).
			if perr := t.w.db.Poll(ctx); perr != nil {
				t.w.db.log.Warn("could not catch up after a write conflict; the poller retries", "err", perr)
			}
		}
		return nil, err
	}
	t.committed = v
	return v, nil
}

func (t *Txn) commit(ctx context.Context) (*View, error) {
	w, base := t.w, t.base
	pgnos := t.w.ov.pgnos()
	size := t.commitSize()
	if t.journalRead.Load() {
		var err error
		if pgnos, err = t.changed(ctx, pgnos); err != nil {
			return nil, err
		}
	}
	if len(pgnos) == 0 && size == base.commit {
		return base, nil // nothing to store (a rollback's sync)
	}
	for len(pgnos) > 0 && pgnos[len(pgnos)-1] > size {
		pgnos = pgnos[:len(pgnos)-1] // dropped by the commit's own shrink
	}
	if err := w.Broken(); err != nil {
		return nil, err
	}
	if w.opts.Sync > 0 {
		return w.commitLocal(t, pgnos, size)
	}
	return t.store(ctx, pgnos, size)
}

// store uploads the transaction as the next level-0 file and publishes
// the state it makes (sync=commit).
func (t *Txn) store(ctx context.Context, pgnos []uint32, size uint32) (*View, error) {
	w, db, base := t.w, t.w.db, t.base
	if err := w.catchUp(ctx, base); err != nil {
		return nil, err
	}
	pgnos, err := t.complete(ctx, pgnos, size)
	if err != nil {
		return nil, err
	}
	txid := base.txid + 1
	f := storage.FileInfo{Level: 0, MinTXID: txid, MaxTXID: txid}
	ts := time.Now()
	if ts.Before(base.time) {
		ts = base.time // commit times never go back, whatever the clock does
	}
	hdr := replica.FileHeader{PageSize: t.pageSize, Commit: size, MinTXID: txid, MaxTXID: txid, Timestamp: ts, NodeID: w.node}
	x, err := w.upload(ctx, base.txid, f, hdr, func(out io.Writer) (*replica.Encoder, error) {
		return encodePages(out, hdr, pgnos, t.w.ov.get)
	})
	if err != nil {
		return nil, err
	}
	// Warmed before publishing: the hydrated file, woken by the publish,
	// takes the committed pages from the cache instead of downloading them.
	t.warm(x)
	next, err := w.publishStored(base, x)
	if err != nil {
		return nil, err
	}
	db.log.Debug("committed", "txid", txid, "pages", len(x.Frames), "size", size, "bytes", x.File.Size)
	return next, nil
}

// complete adds to a commit's pages what its file must hold for readers
// to check it (replica.FileIndex.CheckAfter): every page a growth adds
// (zeros, as a growing file reads, when SQLite did not write one), and
// page 1, which records the size, when the size changes.
func (t *Txn) complete(ctx context.Context, pgnos []uint32, size uint32) ([]uint32, error) {
	base := t.base
	have := make(map[uint32]bool, len(pgnos))
	for _, p := range pgnos {
		have[p] = true
	}
	lock := ltx.LockPgno(t.pageSize)
	for pgno := base.commit + 1; pgno <= size; pgno++ {
		if !have[pgno] && pgno != lock {
			pgnos = append(pgnos, pgno)
			have[pgno] = true
		}
	}
	if size != base.commit && !have[1] && base.commit > 0 {
		page, err := t.w.db.page(ctx, base, 1, 1, nil)
		if err != nil {
			return nil, fmt.Errorf("read page 1 of TXID %s: %w", base.txid, err)
		}
		if err := t.w.ov.put(1, page); err != nil {
			return nil, err
		}
		pgnos = append(pgnos, 1)
	}
	slices.Sort(pgnos)
	return pgnos, nil
}

// commitSize is the database size the commit leaves: SQLite's own count
// in the header of page 1 (which a commit always rewrites, and which is
// valid when the version-valid-for number equals the change counter),
// else the size the writes and truncations left.
func (t *Txn) commitSize() uint32 {
	hdr := make([]byte, t.pageSize)
	if ok, err := t.w.ov.get(1, hdr); ok && err == nil && len(hdr) >= 100 {
		counter, valid := binary.BigEndian.Uint32(hdr[24:]), binary.BigEndian.Uint32(hdr[92:])
		if n := binary.BigEndian.Uint32(hdr[28:]); counter == valid && n > 0 {
			return n
		}
	}
	return t.size
}

// changed drops the pages that equal the base view's: after a rollback
// wrote the original pages back, none is left.
func (t *Txn) changed(ctx context.Context, pgnos []uint32) ([]uint32, error) {
	db, base := t.w.db, t.base
	buf := make([]byte, t.pageSize)
	out := pgnos[:0:0]
	for _, pgno := range pgnos {
		if pgno > base.commit {
			out = append(out, pgno)
			continue
		}
		old, err := db.page(ctx, base, pgno, 1, nil)
		if err != nil {
			return nil, fmt.Errorf("compare page %d with TXID %s: %w", pgno, base.txid, err)
		}
		if _, err := t.w.ov.get(pgno, buf); err != nil {
			return nil, err
		}
		if old == nil {
			old = make([]byte, t.pageSize)
		}
		if !bytes.Equal(old, buf) {
			out = append(out, pgno)
		}
	}
	return out, nil
}

// encodePages writes an LTX file of pages read by get; a snapshot (the
// first TXID) holds every page, zeros for those get does not have.
func encodePages(w io.Writer, hdr replica.FileHeader, pgnos []uint32, get func(pgno uint32, buf []byte) (bool, error)) (*replica.Encoder, error) {
	enc, err := replica.NewEncoder(w, hdr, true)
	if err != nil {
		return nil, err
	}
	buf := make([]byte, hdr.PageSize)
	put := func(pgno uint32) error {
		ok, err := get(pgno, buf)
		if err != nil {
			return err
		}
		if !ok {
			clear(buf)
		}
		return enc.WritePage(pgno, buf)
	}
	if hdr.MinTXID == 1 {
		lock := ltx.LockPgno(hdr.PageSize)
		for pgno := uint32(1); pgno <= hdr.Commit; pgno++ {
			if pgno == lock {
				continue
			}
			if err := put(pgno); err != nil {
				enc.Abort()
				return nil, err
			}
		}
	} else {
		for _, pgno := range pgnos {
			if pgno > hdr.Commit {
				break
			}
			if err := put(pgno); err != nil {
				enc.Abort()
				return nil, err
			}
		}
	}
	return enc, enc.Close()
}

// warm caches the committed pages under their stored file, so that the
// writer's next reads cost no request. Large commits warm only what fits
// in half the cache.
func (t *Txn) warm(x *replica.FileIndex) {
	db := t.w.db
	budget := db.opts.CacheSize / 2
	for _, fr := range x.Frames {
		if budget -= int64(t.pageSize); budget < 0 {
			return
		}
		page := make([]byte, t.pageSize)
		if ok, err := t.w.ov.get(fr.Pgno, page); err != nil || !ok {
			continue
		}
		db.cache.add(pageKey{x.File.Key(), fr.Pgno}, page)
	}
}
