package engine

import (
	"context"
	"errors"
	"fmt"
	"io"
	"maps"
	"slices"
	"time"

	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Group commit (sync=DURATION): a COMMIT returns once the transaction is
// fsynced to the write buffer (wbuffer.go) and published as the latest
// view of this process, with its pages read from the buffer. Every
// interval the flusher stores the pending commits as one level-0 file
// (one TXID for many SQLite transactions) and re-points the view at it.
// A conflict at that point cannot be answered to the commits, which
// already returned: the replica turns read-only for this process and the
// buffer stays for inspection.

// commitLocal appends the transaction to the write buffer and publishes
// the state it makes.
func (w *Writer) commitLocal(t *Txn, pgnos []uint32, size uint32) (*View, error) {
	w.bufMu.Lock()
	defer w.bufMu.Unlock()
	b := w.buf
	if b.cur == nil || (len(b.pending) == 0 && (b.base != t.base.txid || b.pageSize != t.pageSize)) {
		// No log yet, or nothing pending on another base: a fresh log on
		// the state this transaction builds on.
		if err := b.reset(t.base.txid, t.pageSize); err != nil {
			return nil, err
		}
	}
	now := time.Now()
	if last := t.base.time; now.Before(last) {
		now = last
	}
	c, err := b.appendCommit(pgnos, func(pgno uint32, buf []byte) error {
		if ok, err := w.ov.get(pgno, buf); err != nil || !ok {
			return fmt.Errorf("page %d of the transaction is missing from its overlay: %w", pgno, err)
		}
		return nil
	}, size, now)
	if err != nil {
		return nil, err
	}
	w.mu.Lock()
	defer w.mu.Unlock()
	latest := w.db.Latest()
	next := latest.derive()
	next.pend = addPending(storedView(latest), latest.pend, b.src, c, b.pageSize)
	next.commit = size
	next.counter = w.db.nextCounter()
	if !w.db.publish(latest, next, nil) {
		return nil, fmt.Errorf("%s: the latest view moved during a local commit", w.db.rep)
	}
	return next, nil
}

// addPending returns the pending layer prev (nil: none) over the stored
// view base with commit c on top.
func addPending(base *View, prev *pendingPages, src *source, c *pendingCommit, pageSize uint32) *pendingPages {
	p := &pendingPages{base: base, floor: base.commit, commits: 1, pages: make(map[uint32]pageLoc)}
	if prev != nil {
		p.floor, p.commits = prev.floor, prev.commits+1
		p.pages = maps.Clone(prev.pages)
	}
	p.floor = min(p.floor, c.size)
	for pgno, off := range c.pages {
		p.pages[pgno] = pageLoc{src: src, frame: replica.Frame{Pgno: pgno, Size: pageSize, Offset: off}}
	}
	for pgno := range p.pages {
		if pgno > c.size {
			delete(p.pages, pgno)
		}
	}
	return p
}

// pendingView is stored with the buffer's pending commits on top.
func (w *Writer) pendingView(stored *View) *View {
	b := w.buf
	if len(b.pending) == 0 {
		return stored
	}
	next := stored.derive()
	next.pend = nil
	for _, c := range b.pending {
		next.pend = addPending(stored, next.pend, b.src, c, b.pageSize)
		next.commit = c.size
	}
	return next
}

// storedView is v without its pending commits.
func storedView(v *View) *View {
	if v.pend == nil {
		return v
	}
	return v.pend.base
}

// flushLoop stores the pending commits every sync interval until ctx ends.
func (w *Writer) flushLoop(ctx context.Context) {
	defer close(w.flusherDone)
	t := time.NewTicker(w.opts.Sync)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
		fctx, cancel := context.WithTimeout(ctx, commitTimeout)
		if _, err := w.Sync(fctx); err != nil && ctx.Err() == nil && !errors.Is(err, ErrReadOnly) {
			w.db.log.Warn("storing pending commits failed; retrying at the next interval", "err", err)
		}
		cancel()
	}
}

// Sync stores the pending commits now and returns the last stored TXID
// (strata_sync). In sync=commit mode there is nothing pending.
func (w *Writer) Sync(ctx context.Context) (ltx.TXID, error) {
	w.flushMu.Lock()
	defer w.flushMu.Unlock()
	var txid ltx.TXID
	err := safe.Call("flush", func() (err error) {
		txid, err = w.flush(ctx)
		return err
	})
	return txid, err
}

// flush stores the commits pending now as the next level-0 file. Called
// with flushMu held.
func (w *Writer) flush(ctx context.Context) (ltx.TXID, error) {
	db := w.db
	if err := w.Broken(); err != nil {
		return storedView(db.Latest()).txid, err
	}
	w.bufMu.Lock()
	b := w.buf
	if b == nil || len(b.pending) == 0 {
		w.bufMu.Unlock()
		return storedView(db.Latest()).txid, nil
	}
	commits := slices.Clone(b.pending)
	base, pageSize := b.base, b.pageSize
	w.bufMu.Unlock()

	last := commits[len(commits)-1]
	stored := storedView(db.Latest())
	if stored.txid != base {
		return 0, w.fail(&ConflictError{URL: db.rep.String(), Base: base, Remote: stored.txid})
	}
	if err := w.catchUp(ctx, db.Latest()); err != nil {
		if errors.Is(err, ErrConflict) {
			return 0, w.fail(err)
		}
		return 0, err
	}
	// The newest version of each page, and zeros for pages a shrink among
	// the commits dropped and no later commit wrote again.
	pages := make(map[uint32]int64)
	floor := stored.commit
	for _, c := range commits {
		floor = min(floor, c.size)
		maps.Copy(pages, c.pages)
		for pgno := range pages {
			if pgno > c.size {
				delete(pages, pgno)
			}
		}
	}
	pgnos := slices.Sorted(maps.Keys(pages))
	for pgno := floor + 1; pgno <= last.size; pgno++ {
		if _, ok := pages[pgno]; !ok && pgno != ltx.LockPgno(pageSize) {
			pgnos = append(pgnos, pgno)
		}
	}
	var page1 []byte // page 1 of the stored state, when the size changes without it
	if _, ok := pages[1]; !ok && last.size != stored.commit && stored.commit > 0 {
		p, err := db.page(ctx, stored, 1, 1, nil)
		if err != nil {
			return 0, fmt.Errorf("read page 1 of TXID %s: %w", stored.txid, err)
		}
		page1 = p
		pgnos = append(pgnos, 1)
	}
	slices.Sort(pgnos)
	txid := base + 1
	ts := last.time
	if ts.Before(stored.time) {
		ts = stored.time
	}
	hdr := replica.FileHeader{PageSize: pageSize, Commit: last.size, MinTXID: txid, MaxTXID: txid, Timestamp: ts, NodeID: w.node}
	f := storage.FileInfo{Level: 0, MinTXID: txid, MaxTXID: txid}
	if txid == 1 {
		f.MinTXID = 1
	}
	w.bufMu.Lock()
	err := b.mark('U', last.seq, txid, w.node, ts)
	cur := b.cur
	w.bufMu.Unlock()
	if err != nil {
		return 0, err
	}
	x, err := w.upload(ctx, base, f, hdr, func(out io.Writer) (*replica.Encoder, error) {
		return encodePages(out, hdr, pgnos, func(pgno uint32, buf []byte) (bool, error) {
			off, ok := pages[pgno]
			if !ok {
				if pgno == 1 && page1 != nil {
					return copy(buf, page1) > 0, nil
				}
				return false, nil
			}
			_, err := cur.f.ReadAt(buf, off)
			return err == nil, err
		})
	})
	if errors.Is(err, ErrConflict) {
		return 0, w.fail(err)
	}
	if err != nil {
		return 0, err
	}
	if err := w.stored(last.seq, x); err != nil {
		return 0, err
	}
	db.log.Debug("stored pending commits", "txid", txid, "commits", len(commits), "pages", len(x.Frames))
	return txid, nil
}

// stored records that the commits up to seq are stored as x, and
// publishes the same state re-pointed at x (same change counter: the
// database did not change).
func (w *Writer) stored(seq uint64, x *replica.FileIndex) error {
	w.bufMu.Lock()
	defer w.bufMu.Unlock()
	b := w.buf
	if err := b.mark('S', seq, x.Header.MaxTXID, 0, time.Time{}); err != nil {
		return err
	}
	b.stored(seq, x.Header.MaxTXID)
	if len(b.pending) == 0 && b.end > maxBufferLog {
		if err := b.reset(b.base, b.pageSize); err != nil {
			w.db.log.Warn("could not start a fresh write buffer; the old one keeps growing", "err", err)
		}
	}
	src := fileSource(x)
	w.db.indexes.Add(x.File.Key(), src)
	w.mu.Lock()
	defer w.mu.Unlock()
	latest := w.db.Latest()
	next, err := storedView(latest).apply([]*source{src})
	if err != nil {
		return err
	}
	next = w.pendingView(next)
	next.counter = latest.counter
	if !w.db.publish(latest, next, []*source{src}) {
		return fmt.Errorf("%s: the latest view moved while storing TXID %s", w.db.rep, x.Header.MaxTXID)
	}
	w.confirmed = time.Now()
	return nil
}

// maxBufferLog is the size past which an empty write buffer starts over.
const maxBufferLog = 64 << 20

// fail turns the replica read-only for this process after a conflict:
// the acknowledged commits in the buffer cannot be stored. Readers of the
// process go back to the replica's own state.
func (w *Writer) fail(err error) error {
	err = fmt.Errorf("%w; %d commits acknowledged by this process are not stored and are kept in %s; the replica is read-only for this process",
		err, len(w.buf.pending), w.buf.path)
	w.mu.Lock()
	if w.broken == nil {
		w.broken = fmt.Errorf("%w: %w", ErrReadOnly, err)
	}
	w.mu.Unlock()
	w.db.log.Error("write conflict in group commit", "err", err)
	latest := w.db.Latest()
	w.db.publish(latest, storedView(latest), nil)
	_ = w.db.refresh(w.db.ctx, storedView(latest))
	return w.Broken()
}

// recoverBuffer deals with what a previous session left in the buffer:
// commits acknowledged and not stored are stored now if the replica has
// not moved since, or reported (the replica then stays read-only here).
func (w *Writer) recoverBuffer(ctx context.Context) error {
	db, b := w.db, w.buf
	if u := b.upload; u != nil {
		// An upload was under way: did it land?
		f := storage.FileInfo{Level: 0, MinTXID: u.txid, MaxTXID: u.txid}
		if hdr, err := db.rep.ParsedHeader(ctx, f); err == nil && hdr.NodeID == u.node && hdr.Timestamp == u.time.UnixMilli() {
			if err := b.mark('S', u.upTo, u.txid, 0, time.Time{}); err != nil {
				return err
			}
			b.stored(u.upTo, u.txid)
		}
	}
	if len(b.pending) == 0 {
		return nil
	}
	latest := db.Latest()
	if latest.pageSize != 0 && latest.pageSize != b.pageSize {
		return fmt.Errorf("write buffer %s holds %d-byte pages but %s has %d-byte pages", b.path, b.pageSize, db.rep, latest.pageSize)
	}
	if latest.txid != b.base {
		return &ConflictError{URL: db.rep.String(), Base: b.base, Remote: latest.txid,
			Err: fmt.Errorf("%d commits acknowledged by an earlier session are kept in %s", len(b.pending), b.path)}
	}
	db.log.Info("write buffer holds commits acknowledged and not stored; storing them", "commits", len(b.pending), "base", b.base)
	w.mu.Lock()
	defer w.mu.Unlock()
	next := w.pendingView(latest)
	next.counter = db.nextCounter()
	db.publish(latest, next, nil)
	return nil
}
