package vfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"runtime/cgo"
	"sync"
	"sync/atomic"
	"time"
	"unsafe"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/engine"
	"github.com/strata-db/strata/replica"
)

// readTimeout bounds one SQLite read, retries included.
const readTimeout = 2 * time.Minute

// file is one connection's main database file: the SQLite side of an
// engine.Database.
//
// SQLite drives a file from one thread at a time, but the pragma path and
// Close may come from others, so mu guards every field below it.
type file struct {
	vfs    *VFS
	key    string // the replica's key in the VFS registry
	name   string
	reader *engine.Reader
	// conn is the sqlite3* this file serves, learnt at its first read
	// (see shim.c); reads waiting on storage watch it for interrupts.
	conn     atomic.Pointer[byte]
	writable bool       // the connection may write (write=1)
	handle   cgo.Handle // names the file to shim.c

	mu      sync.Mutex
	db      *engine.Database // nil once closed
	lock    sqlite3vfs.LockType
	pinned  *engine.View   // the view read while a SHARED lock is held
	target  replica.Target // latest, or the past state the connection views
	past    *engine.View   // the view of target when it is not latest
	lastErr error          // why this connection's last failed operation failed
	txn     *engine.Txn    // the write transaction, while the lock is RESERVED or more
}

// current is the view reads use now: the pinned one inside a read
// transaction, else the past view or the latest.
func (f *file) current() *engine.View {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.viewLocked()
}

func (f *file) viewLocked() *engine.View {
	switch {
	case f.pinned != nil:
		return f.pinned
	case f.past != nil:
		return f.past
	default:
		return f.db.Latest()
	}
}

// setError records err as this connection's last error (PRAGMA
// strata_last_error) and the process's (VFS.LastError).
func (f *file) setError(err error) {
	f.mu.Lock()
	f.lastErr = err
	f.mu.Unlock()
	f.vfs.setError(err)
}

// LastError is why this connection's most recent failed operation failed.
func (f *file) LastError() error {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.lastErr
}

// Lock pins a view when the connection starts reading: from then until the
// lock drops the connection sees one state, whatever the poller publishes.
// Locks above SHARED begin writing (write.go).
func (f *file) Lock(l sqlite3vfs.LockType) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l > sqlite3vfs.LockShared {
		return f.beginWrite(l)
	}
	if f.lock == sqlite3vfs.LockNone && l >= sqlite3vfs.LockShared {
		// Counted before the view is taken: a publish in between must
		// already see a reader and keep the pages this one may need.
		f.db.BeginRead()
		f.pinned = nil
		f.pinned = f.viewLocked()
	}
	f.lock = max(f.lock, l)
	return nil
}

// Unlock releases the pinned view so the next transaction sees new commits.
func (f *file) Unlock(l sqlite3vfs.LockType) error {
	f.mu.Lock()
	defer f.mu.Unlock()
	if l >= f.lock {
		return nil // nothing to release
	}
	if l < sqlite3vfs.LockReserved {
		f.endWrite()
	}
	f.lock = l
	if l == sqlite3vfs.LockNone && f.pinned != nil {
		f.db.EndRead()
		f.pinned = nil
	}
	return nil
}

// CheckReservedLock implements sqlite3vfs.File: whether a connection of
// this process writes the replica (other processes do not say).
func (f *file) CheckReservedLock() (bool, error) {
	w := f.db.Writer()
	return w != nil && w.Held(), nil
}

// FileSize implements sqlite3vfs.File.
func (f *file) FileSize() (int64, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.txn != nil {
		return f.txn.Size(), nil
	}
	return f.viewLocked().Size(), nil
}

// interrupted reports whether the statement this connection runs was
// interrupted (sqlite3_interrupt).
func (f *file) interrupted() bool {
	c := f.conn.Load()
	return c != nil && interrupted(unsafe.Pointer(c))
}

// ReadAt serves SQLite's reads page by page.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	if f.conn.Load() == nil {
		f.conn.Store((*byte)(readingDB()))
	}
	f.mu.Lock()
	txn := f.txn
	f.mu.Unlock()
	if txn != nil {
		return f.readWriting(txn, p, off)
	}
	return f.readView(f.current(), p, off)
}

// readView reads p at off from view v.
func (f *file) readView(v *engine.View, p []byte, off int64) (int, error) {
	ps := int64(v.PageSize())
	if ps == 0 {
		return 0, io.EOF
	}
	var ctx context.Context // made for the first page not in the hydrated file
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		pgno := uint32(pos/ps) + 1
		if pgno > v.Pages() {
			clear(p[n:])
			return n, io.EOF
		}
		within := int(pos % ps)
		if c := min(len(p)-n, int(ps)-within); f.reader.ReadLocal(v, pgno, p[n:n+c], within) {
			if pgno == 1 && within < 100 {
				patchHeader(p[n:n+c], within, v)
			}
			n += c
			continue
		}
		if ctx == nil {
			var cancel context.CancelFunc
			ctx, cancel = context.WithTimeout(f.db.Context(), readTimeout)
			defer cancel()
		}
		page, fresh, err := f.reader.Read(ctx, v, pgno)
		if err != nil {
			err = fmt.Errorf("read page %d at TXID %s: %w", pgno, v.TXID(), err)
			f.setError(err)
			if errors.Is(err, engine.ErrInterrupted) {
				return n, sqlite3vfs.InterruptError
			}
			f.db.Logger().Error("read failed", "err", err)
			return n, sqlite3vfs.IOErrorRead
		}
		if fresh != v {
			f.replace(v, fresh)
			v = fresh
		}
		var c int
		if page == nil {
			c = min(len(p)-n, int(ps)-within)
			clear(p[n : n+c])
		} else {
			c = copy(p[n:], page[within:])
		}
		if pgno == 1 && within < 100 {
			patchHeader(p[n:n+c], within, v)
		}
		n += c
	}
	return n, nil
}

// replace makes the connection read fresh where it read old: old named a
// file that compaction deleted and was rebuilt at the same TXID.
func (f *file) replace(old, fresh *engine.View) {
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.pinned == old {
		f.pinned = fresh
	}
	if f.past == old {
		f.past = fresh
	}
}

// patchHeader rewrites fields of the database header (page 1, bytes
// 0-99) in buf, which holds the header from byte offset within:
//   - bytes 18-19 = 1: rollback journal, since replicas are often written
//     by WAL-mode databases and this VFS has no WAL;
//   - the change counter (24) and version-valid-for (92) follow the view,
//     so SQLite drops its page cache whenever the state it reads moved;
//   - the in-header size (28) is the view's size.
func patchHeader(buf []byte, within int, v *engine.View) {
	var hdr [100]byte
	end := min(within+len(buf), 100)
	copy(hdr[within:end], buf)
	hdr[18], hdr[19] = 1, 1
	binary.BigEndian.PutUint32(hdr[24:], v.ChangeCounter())
	binary.BigEndian.PutUint32(hdr[28:], v.Pages())
	binary.BigEndian.PutUint32(hdr[92:], v.ChangeCounter())
	copy(buf, hdr[within:end])
}

// SectorSize implements sqlite3vfs.File.
func (f *file) SectorSize() int64 { return 4096 }

// DeviceCharacteristics implements sqlite3vfs.File. Safe-append and
// sequential spare SQLite reads of its journal and extra journal syncs at
// commit (journals are private scratch files here: see local.go).
func (f *file) DeviceCharacteristics() sqlite3vfs.DeviceCharacteristic {
	return sqlite3vfs.IocapSafeAppend | sqlite3vfs.IocapSequential
}

// Close releases the connection's reference to the replica.
func (f *file) Close() error {
	f.mu.Lock()
	db := f.db
	if db != nil {
		f.endWrite()
	}
	f.db = nil
	if db != nil && f.pinned != nil {
		db.EndRead()
		f.pinned = nil
	}
	f.mu.Unlock()
	if f.handle != 0 {
		f.handle.Delete()
		f.handle = 0
	}
	if db != nil {
		f.vfs.registry.Release(f.key, db)
	}
	return nil
}

// travel switches the connection to target (latest: back to following new
// commits). The view is built now, so a bad or unreachable target fails
// here.
func (f *file) travel(t replica.Target) error {
	var past *engine.View
	if !t.IsLatest() {
		ctx, cancel := context.WithTimeout(f.db.Context(), readTimeout)
		defer cancel()
		v, err := f.db.At(ctx, t)
		if err != nil {
			return err
		}
		past = v
	}
	f.mu.Lock()
	f.target, f.past = t, past
	f.mu.Unlock()
	return nil
}

// readWriting serves the writing connection's reads: its own uncommitted
// pages first, then the view its transaction began on (or the one its
// commit made). Its own pages are served as written: SQLite knows what it
// put in page 1's header.
func (f *file) readWriting(txn *engine.Txn, p []byte, off int64) (int, error) {
	ps := int64(txn.PageSize())
	if ps == 0 {
		return 0, io.EOF // a new database: nothing written yet
	}
	size := txn.Size()
	n := 0
	page := make([]byte, ps)
	for n < len(p) {
		pos := off + int64(n)
		if pos >= size {
			clear(p[n:])
			return n, io.EOF
		}
		pgno := uint32(pos/ps) + 1
		within := pos % ps
		ok, err := txn.ReadPage(pgno, page)
		if err != nil {
			f.setError(err)
			return n, sqlite3vfs.IOErrorRead
		}
		c := min(len(p)-n, int(ps-within))
		if ok {
			copy(p[n:n+c], page[within:])
		} else if _, err := f.readView(f.current(), p[n:n+c], pos); err == io.EOF {
			clear(p[n : n+c]) // grown by this transaction, not written yet
		} else if err != nil {
			return n, err
		}
		n += c
	}
	return n, nil
}
