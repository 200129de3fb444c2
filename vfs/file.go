package vfs

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"sync"
	"time"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// readTimeout bounds one SQLite read, retries included.
const readTimeout = 2 * time.Minute

// file is one connection's main database file.
//
// SQLite drives a file from one thread at a time, but the pragma path and
// Close may come from others, so mu guards every field below it.
type file struct {
	db   *database
	vfs  *VFS
	name string

	mu     sync.Mutex
	lock   sqlite3vfs.LockType
	pinned *view          // the view read while a SHARED lock is held
	target replica.Target // replica.Latest(): follow the latest state
	past   *view          // the view of target when it is not latest
	ra     readAhead
	scan   siblingScan
}

// current is the view reads use now: the pinned one inside a read
// transaction, else the past view or the latest.
func (f *file) current() *view {
	f.mu.Lock()
	defer f.mu.Unlock()
	return f.viewLocked()
}

func (f *file) viewLocked() *view {
	switch {
	case f.pinned != nil:
		return f.pinned
	case f.past != nil:
		return f.past
	default:
		return f.db.latest()
	}
}

// Lock pins a view when the connection starts reading: from then until the
// lock drops the connection sees one state, whatever the poller publishes.
func (f *file) Lock(l sqlite3vfs.LockType) error {
	if l > sqlite3vfs.LockShared {
		return sqlite3vfs.ReadOnlyError
	}
	f.mu.Lock()
	defer f.mu.Unlock()
	if f.lock == sqlite3vfs.LockNone && l >= sqlite3vfs.LockShared {
		// Counted before the view is taken: a publish in between must
		// already see a reader and keep the pages this one may need.
		f.db.readers.Add(1)
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
	f.lock = l
	if l == sqlite3vfs.LockNone && f.pinned != nil {
		f.db.readers.Add(-1)
		f.pinned = nil
	}
	return nil
}

// CheckReservedLock implements sqlite3vfs.File: nobody writes here.
func (f *file) CheckReservedLock() (bool, error) { return false, nil }

// FileSize implements sqlite3vfs.File.
func (f *file) FileSize() (int64, error) { return f.current().size(), nil }

// ReadAt serves SQLite's reads page by page.
func (f *file) ReadAt(p []byte, off int64) (int, error) {
	v := f.current()
	if v.pageSize == 0 {
		return 0, io.EOF
	}
	ctx, cancel := context.WithTimeout(f.db.ctx, readTimeout)
	defer cancel()
	n := 0
	for n < len(p) {
		pos := off + int64(n)
		pgno := uint32(pos/int64(v.pageSize)) + 1
		if pgno > v.commit {
			clear(p[n:])
			return n, io.EOF
		}
		page, err := f.readPage(ctx, v, pgno)
		if err != nil {
			err = fmt.Errorf("read page %d at TXID %s: %w", pgno, v.txid, err)
			f.db.log.Error("read failed", "err", err)
			f.vfs.setError(err)
			return n, sqlite3vfs.IOErrorRead
		}
		within := int(pos % int64(v.pageSize))
		if page != nil && within == 0 && len(p)-n >= int(v.pageSize) {
			f.mu.Lock()
			f.scan.observe(pgno, page)
			f.mu.Unlock()
		}
		var c int
		if page == nil {
			c = min(len(p)-n, int(v.pageSize)-within)
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

// readPage fetches a page with the connection's read-ahead window. When the
// view names a file that compaction has since deleted, the view is rebuilt
// at the same TXID from a fresh listing and the read retried once.
func (f *file) readPage(ctx context.Context, v *view, pgno uint32) ([]byte, error) {
	f.mu.Lock()
	window := f.ra.next(pgno)
	siblings := f.scan.onRead(pgno)
	f.mu.Unlock()
	page, err := f.db.page(ctx, v, pgno, window, siblings...)
	if !errors.Is(err, storage.ErrNotFound) {
		return page, err
	}
	f.db.log.Info("file gone (compacted?); re-planning", "txid", v.txid, "err", err)
	fresh, perr := f.db.replan(ctx, v)
	if perr != nil {
		return nil, fmt.Errorf("%w; the state at TXID %s is no longer in the replica (compacted away?); retry the transaction: %w", err, v.txid, perr)
	}
	f.mu.Lock()
	if f.pinned == v {
		f.pinned = fresh
	}
	if f.past == v {
		f.past = fresh
	}
	f.mu.Unlock()
	return f.db.page(ctx, fresh, pgno, window, siblings...)
}

// patchHeader rewrites fields of the database header (page 1, bytes
// 0-99) in buf, which holds the header from byte offset within:
//   - bytes 18-19 = 1: rollback journal, since replicas are often written
//     by WAL-mode databases and this VFS has no WAL;
//   - the change counter (24) and version-valid-for (92) follow the TXID,
//     so SQLite drops its page cache whenever the state it reads moved;
//   - the in-header size (28) is the view's size.
func patchHeader(buf []byte, within int, v *view) {
	var hdr [100]byte
	end := min(within+len(buf), 100)
	copy(hdr[within:end], buf)
	hdr[18], hdr[19] = 1, 1
	binary.BigEndian.PutUint32(hdr[24:], uint32(v.txid))
	binary.BigEndian.PutUint32(hdr[28:], v.commit)
	binary.BigEndian.PutUint32(hdr[92:], uint32(v.txid))
	copy(buf, hdr[within:end])
}

// WriteAt implements sqlite3vfs.File: replicas are read-only here.
func (f *file) WriteAt(p []byte, off int64) (int, error) { return 0, sqlite3vfs.ReadOnlyError }

// Truncate implements sqlite3vfs.File.
func (f *file) Truncate(size int64) error { return sqlite3vfs.ReadOnlyError }

// Sync implements sqlite3vfs.File.
func (f *file) Sync(flag sqlite3vfs.SyncType) error { return nil }

// SectorSize implements sqlite3vfs.File.
func (f *file) SectorSize() int64 { return 4096 }

// DeviceCharacteristics implements sqlite3vfs.File.
func (f *file) DeviceCharacteristics() sqlite3vfs.DeviceCharacteristic { return 0 }

// Close releases the connection's reference to the replica.
func (f *file) Close() error {
	f.mu.Lock()
	db := f.db
	f.db = nil
	f.mu.Unlock()
	if db != nil {
		f.vfs.releaseDB(db)
	}
	return nil
}

// travel switches the connection to target (replica.Latest(): back to latest). The
// view is built now, so a bad or unreachable target fails here.
func (f *file) travel(t replica.Target) error {
	var past *view
	if !t.IsLatest() {
		ctx, cancel := context.WithTimeout(f.db.ctx, readTimeout)
		defer cancel()
		v, err := f.db.viewAt(ctx, t)
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
