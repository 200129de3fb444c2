package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"time"

	"github.com/strata-db/strata/storage"
)

// Reader is one connection's reading state: how far ahead it fetches
// (read-ahead window) and which B-tree it is walking (sibling prefetch).
// Connections do not share a Reader; mu only guards against the rare
// call from another thread (SQLite drives a file from one thread at a
// time).
type Reader struct {
	db *Database
	// interrupted, when set, reports whether the connection was told to
	// stop (sqlite3_interrupt); a read waiting on storage polls it.
	interrupted func() bool

	mu   sync.Mutex
	ra   readAhead
	scan siblingScan
}

// NewReader returns a reading state for one connection. interrupted, if
// not nil, reports whether the connection's current statement was
// interrupted: a read that waits on storage then gives up within
// interruptPoll, with an error matching context.Canceled.
func (db *Database) NewReader(interrupted func() bool) *Reader {
	return &Reader{db: db, interrupted: interrupted}
}

// interruptPoll is how often a read waiting on storage checks whether its
// connection was interrupted.
const interruptPoll = 20 * time.Millisecond

// watch returns a context that ends when the connection is interrupted,
// watched by a goroutine that lives as long as the wait.
func (r *Reader) watch(ctx context.Context) (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(ctx)
	done := make(chan struct{})
	go func() {
		t := time.NewTicker(interruptPoll)
		defer t.Stop()
		for {
			select {
			case <-done:
				return
			case <-ctx.Done():
				return
			case <-t.C:
				if r.interrupted() {
					cancel(ErrInterrupted)
					return
				}
			}
		}
	}()
	return ctx, func() { close(done); cancel(nil) }
}

// ErrInterrupted is matched by errors of reads whose connection was
// interrupted; it matches context.Canceled too.
var ErrInterrupted = fmt.Errorf("interrupted: %w", context.Canceled)

// ReadLocal copies bytes [off, off+len(dst)) of page pgno as of v into dst
// from the hydrated file, when the file holds that version of the page,
// and reports whether it did: the fast path of a hydrated replica (no
// allocation, no context, no read-ahead). Pages it does not serve are read
// with Read.
func (r *Reader) ReadLocal(v *View, pgno uint32, dst []byte, off int) bool {
	h := r.db.hyd.Load()
	if h == nil {
		return false
	}
	loc := v.lookup(pgno)
	if loc.src == nil || loc.src.buf != nil || off+len(dst) > int(v.pageSize) {
		return false
	}
	return h.readInto(v, pgno, loc, dst, off)
}

// Read returns page pgno as of v: nil (with a nil error) for a page that
// reads as zeros. When v names a file that compaction has since deleted,
// v is rebuilt at the same TXID from a fresh listing and the read retried
// once: the rebuilt view is returned so the caller reads from it from now
// on (else it returns v).
func (r *Reader) Read(ctx context.Context, v *View, pgno uint32) ([]byte, *View, error) {
	r.mu.Lock()
	window := r.ra.next(pgno)
	siblings := r.scan.onRead(pgno)
	r.mu.Unlock()
	db := r.db
	var watch watcher
	if r.interrupted != nil {
		watch = r.watch
	}
	page, err := db.page(ctx, v, pgno, window, watch, siblings...)
	if errors.Is(err, storage.ErrNotFound) {
		db.log.Info("file gone (compacted?); re-planning", "txid", v.txid, "err", err)
		fresh, perr := db.replan(ctx, v)
		if perr != nil {
			return nil, v, fmt.Errorf("%w; the state at TXID %s is no longer in the replica (compacted away?); retry the transaction: %w", err, v.txid, perr)
		}
		v = fresh
		page, err = db.page(ctx, v, pgno, window, watch, siblings...)
	}
	if err != nil {
		if r.interrupted != nil && errors.Is(err, context.Canceled) && r.interrupted() {
			err = fmt.Errorf("%w: %w", ErrInterrupted, err)
		}
		return nil, v, err
	}
	if page != nil {
		r.mu.Lock()
		r.scan.observe(pgno, page)
		r.mu.Unlock()
	}
	return page, v, nil
}
