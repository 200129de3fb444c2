package engine

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// pollLoop advances db.current every PollInterval until db is closed.
func (db *Database) pollLoop() {
	defer close(db.pollDone)
	t := time.NewTicker(db.opts.PollInterval)
	defer t.Stop()
	for {
		select {
		case <-db.ctx.Done():
			return
		case <-t.C:
		}
		if err := db.Poll(db.ctx); err != nil && db.ctx.Err() == nil {
			db.log.Warn("poll failed; readers keep the current state", "err", err)
		}
	}
}

// pollTimeout bounds one poll, retries included, so that a storage that
// stopped answering shows in strata_lag instead of hanging the poller.
const pollTimeout = 30 * time.Second

// Poll looks for new files once, as the poller does on its tick, and
// publishes what extends the latest view. Tests that decide themselves
// when polls happen open the replica with a long poll interval and call it.
func (db *Database) Poll(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, pollTimeout)
	defer cancel()
	err := safe.Call("poll", func() error { return db.poll(ctx) })
	var perr *safe.PanicError
	if errors.As(err, &perr) {
		db.log.Error("panic in the poller (recovered)", "err", err, "stack", string(perr.Stack))
	}
	db.mu.Lock()
	db.pollErr = err
	db.mu.Unlock()
	return err
}

// poll lists level 0 and level 1 after the current TXID, chains the files
// that extend it without a gap, and publishes the new view. When new files
// exist but none continues the current TXID (level 0 has a gap that level 1
// does not bridge, or a file is corrupt), it re-plans from a full listing.
// Only a poll that brought the view up to date counts for strata_lag.
func (db *Database) poll(ctx context.Context) error {
	cur := db.Latest()
	if cur.pend != nil {
		// This process's writer has commits not stored yet: it owns the
		// latest state until it stores them (and finds any conflict).
		db.lastPoll.Store(time.Now().UnixNano())
		return nil
	}
	l0, err := db.rep.List(ctx, 0, cur.txid+1)
	if err != nil {
		return err
	}
	l1, err := db.rep.List(ctx, 1, ltx.TXID(db.l1Next.Load()))
	if err != nil {
		return err
	}
	files := extend(cur.txid, db.bad.Filter(l0), db.bad.Filter(l1))
	if len(files) == 0 {
		if len(l0) > 0 || beyond(l1, cur.txid) {
			return db.refresh(ctx, cur)
		}
		db.lastPoll.Store(time.Now().UnixNano())
		if w := db.Writer(); w != nil && db.Latest() == cur {
			w.confirm() // the replica ends at the latest view
		}
		return nil
	}
	srcs, data, err := db.indexAll(ctx, files)
	if err != nil {
		var ce *replica.CorruptError
		if !errors.As(err, &ce) {
			return err
		}
		db.log.Error("corrupt LTX file; planning around it", "err", err)
		db.bad.Add(ce.File)
		return db.refresh(ctx, cur)
	}
	err = cur.checkFiles(srcs)
	var next *View
	if err == nil {
		next, err = cur.apply(srcs)
	}
	var ce *replica.CorruptError
	if errors.As(err, &ce) {
		db.log.Error("corrupt LTX file; planning around it", "err", err)
		db.bad.Add(ce.File)
		return db.refresh(ctx, cur)
	}
	if err != nil {
		return err
	}
	next.counter = db.nextCounter()
	// Warmed before publishing: the hydrated file, woken by the publish,
	// takes the new pages from the cache.
	db.warm(next, srcs, data)
	if !db.publish(cur, next, srcs) {
		return nil // the view was re-planned meanwhile; the next tick retries
	}
	db.advanceL1(nextL1(l1, next.txid))
	db.lastPoll.Store(time.Now().UnixNano())
	db.log.Debug("applied new transactions", "from", cur.txid, "to", next.txid, "files", len(files))
	return nil
}

// refresh rebuilds the latest view from a full listing, leaving out files
// found corrupt, and publishes it if it is newer than cur.
func (db *Database) refresh(ctx context.Context, cur *View) error {
	all, err := db.rep.Files(ctx)
	if err != nil {
		return err
	}
	next, err := db.buildView(ctx, all, replica.Latest())
	if err != nil {
		return fmt.Errorf("cannot advance past TXID %s: %w", cur.txid, err)
	}
	if next.txid <= cur.txid {
		return fmt.Errorf("cannot advance past TXID %s: the newest reachable state is TXID %s", cur.txid, next.txid)
	}
	next.counter = db.nextCounter()
	if db.publish(cur, next, nil) {
		db.advanceL1(nextL1(all, next.txid))
		db.lastPoll.Store(time.Now().UnixNano())
		db.log.Info("re-planned the latest state", "from", cur.txid, "to", next.txid)
	}
	return nil
}

// advanceL1 moves the level-1 listing cursor forward to txid.
func (db *Database) advanceL1(txid ltx.TXID) {
	for {
		cur := db.l1Next.Load()
		if uint64(txid) <= cur || db.l1Next.CompareAndSwap(cur, uint64(txid)) {
			return
		}
	}
}

// beyond reports whether a file ends after txid.
func beyond(files []storage.FileInfo, txid ltx.TXID) bool {
	for _, f := range files {
		if f.MaxTXID > txid {
			return true
		}
	}
	return false
}

// extend chains files that continue txid: level-0 files while they are
// contiguous, and a level-1 file covering the next TXID when level 0 has a
// gap (its files were compacted away). A level-1 file may start before
// txid+1: its pages are then at least as new as the ones it overlaps.
func extend(txid ltx.TXID, l0, l1 []storage.FileInfo) []storage.FileInfo {
	var out []storage.FileInfo
	for {
		f, ok := following(txid, l0)
		if !ok {
			if f, ok = following(txid, l1); !ok {
				return out
			}
		}
		out = append(out, f)
		txid = f.MaxTXID
	}
}

// following finds the file that covers txid+1 and goes past txid.
func following(txid ltx.TXID, files []storage.FileInfo) (storage.FileInfo, bool) {
	var best storage.FileInfo
	found := false
	for _, f := range files {
		if f.MinTXID <= txid+1 && f.MaxTXID > txid && (!found || f.MaxTXID > best.MaxTXID) {
			best, found = f, true
		}
	}
	return best, found
}

// nextL1 is where the level-1 listing should start so that it still finds
// the file covering txid+1: just after the last level-1 file ending at or
// before txid (level-1 files tile the TXIDs in order).
func nextL1(files []storage.FileInfo, txid ltx.TXID) ltx.TXID {
	var next ltx.TXID
	for _, f := range files {
		if f.Level == 1 && f.MaxTXID <= txid && f.MaxTXID+1 > next {
			next = f.MaxTXID + 1
		}
	}
	return next
}
