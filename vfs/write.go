package vfs

// #include <stdint.h>
import "C"

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"runtime/cgo"
	"syscall"
	"time"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/engine"
)

// The write side of a connection's main database file. SQLite's lock
// protocol maps onto the engine's writer:
//
//   - SHARED pins a view (file.go); readers never wait for the writer.
//   - RESERVED begins a write transaction (engine.Txn) over the pinned
//     view: SQLITE_BUSY if another connection of the process writes, or
//     if the pinned view is no longer the latest (the transaction must
//     start over, as in WAL mode); SQLITE_READONLY when writes are off.
//   - PENDING and EXCLUSIVE are granted to the writer at once: no reader
//     reads the pages it writes, which go to the transaction's overlay.
//   - SQLite syncing the database file (SQLITE_FCNTL_SYNC, from shim.c)
//     commits: the overlay becomes the next LTX file. A conflict answers
//     SQLITE_BUSY_SNAPSHOT, which makes SQLite roll the transaction back.
//   - Dropping below RESERVED ends the transaction; what was not committed
//     is dropped.

// SQLite result codes the commit hook returns (sqlite3.h).
const (
	sqliteOK           = 0
	sqliteReadOnly     = 8
	sqliteFull         = 13
	sqliteIOErrFsync   = 10 | 4<<8 // SQLITE_IOERR_FSYNC
	sqliteBusySnapshot = 5 | 2<<8  // SQLITE_BUSY_SNAPSHOT
)

// commitTimeout bounds one commit, its retries included.
const commitTimeout = 2 * time.Minute

// readOnlyHint tells how to make a replica writable.
const readOnlyHint = "open it with write=1 (URI parameter), STRATA_WRITE=1 (extension), Config.Write (Go) or `strata exec` / `strata shell -write`"

// beginWrite handles a lock request at RESERVED or above. Called with f.mu
// held.
func (f *file) beginWrite(l sqlite3vfs.LockType) error {
	if f.txn != nil {
		f.lock = max(f.lock, l)
		return nil
	}
	if f.lock < sqlite3vfs.LockShared || f.pinned == nil {
		return sqlite3vfs.MisuseError // SQLite always reads before it writes
	}
	if f.past != nil {
		f.lastErr = fmt.Errorf("%s is viewed as of TXID %s: a connection looking at the past cannot write (PRAGMA strata_time = 'latest' first)", f.db.Replica(), f.past.TXID())
		return sqlite3vfs.ReadOnlyError
	}
	w := f.db.Writer()
	if !f.writable || w == nil {
		f.lastErr = fmt.Errorf("%s: %w for this connection: %s", f.db.Replica(), engine.ErrReadOnly, readOnlyHint)
		return sqlite3vfs.ReadOnlyError
	}
	txn, err := w.Begin(f, f.pinned)
	switch {
	case errors.Is(err, engine.ErrBusy), errors.Is(err, engine.ErrStale):
		return sqlite3vfs.BusyError
	case err != nil:
		f.lastErr = err
		return sqlite3vfs.ReadOnlyError
	}
	f.txn = txn
	f.vfs.setWriting(f.name, f)
	f.lock = l
	return nil
}

// endWrite ends the write transaction when the lock drops below
// RESERVED. Called with f.mu held.
func (f *file) endWrite() {
	if f.txn == nil {
		return
	}
	f.txn.End()
	f.txn = nil
	f.vfs.setWriting(f.name, nil)
}

// WriteAt implements sqlite3vfs.File: pages go to the write transaction.
// SQLite writes whole pages at page boundaries; anything else is merged
// into the page it touches.
func (f *file) WriteAt(p []byte, off int64) (int, error) {
	f.mu.Lock()
	txn := f.txn
	f.mu.Unlock()
	if txn == nil {
		return 0, sqlite3vfs.ReadOnlyError
	}
	ps := int64(txn.PageSize())
	if ps == 0 && off == 0 {
		ps = int64(len(p)) // the first page of a new database sets the page size
	}
	if off == 0 && len(p) >= 18 && ps > 0 {
		// Page 1 says SQLite's page size. Another size than the replica's
		// (a VACUUM after PRAGMA page_size) would be stored in pages of the
		// old size, which its lock page would cut into past 1 GiB.
		if sqlitePS := headerPageSize(p); sqlitePS != ps {
			f.setError(fmt.Errorf("%s: a database of %d-byte pages cannot change to %d-byte pages in place: restore it, change the page size of the local copy and import it into a new replica", f.db.Replica(), ps, sqlitePS))
			return 0, sqlite3vfs.IOErrorWrite
		}
	}
	if ps > 0 && off%ps == 0 && int64(len(p)) == ps {
		if err := txn.WritePage(uint32(off/ps)+1, p); err != nil {
			return 0, f.writeError(err)
		}
		return len(p), nil
	}
	if ps == 0 {
		f.setError(fmt.Errorf("write of %d bytes at offset %d before the page size is known", len(p), off))
		return 0, sqlite3vfs.IOErrorWrite
	}
	n := 0
	page := make([]byte, ps)
	for n < len(p) {
		pos := off + int64(n)
		pgno := uint32(pos/ps) + 1
		if err := f.readForWrite(txn, pgno, page); err != nil {
			return n, f.writeError(err)
		}
		c := copy(page[pos%ps:], p[n:])
		if err := txn.WritePage(pgno, page); err != nil {
			return n, f.writeError(err)
		}
		n += c
	}
	return n, nil
}

// headerPageSize is the page size a database header (page 1) gives:
// bytes 16-17, where 1 means 65536.
func headerPageSize(page1 []byte) int64 {
	n := int64(binary.BigEndian.Uint16(page1[16:18]))
	if n == 1 {
		return 65536
	}
	return n
}

// readForWrite reads the current content of pgno as the transaction sees it.
func (f *file) readForWrite(txn *engine.Txn, pgno uint32, buf []byte) error {
	if ok, err := txn.ReadPage(pgno, buf); ok || err != nil {
		return err
	}
	clear(buf)
	base := txn.Base()
	if pgno > base.Pages() {
		return nil
	}
	ctx, cancel := context.WithTimeout(f.db.Context(), readTimeout)
	defer cancel()
	page, _, err := f.reader.Read(ctx, base, pgno)
	copy(buf, page)
	return err
}

// journalRead tells the write transaction that SQLite read its journal.
func (f *file) journalRead() {
	f.mu.Lock()
	txn := f.txn
	f.mu.Unlock()
	if txn != nil {
		txn.MarkJournalRead()
	}
}

// writeError records err and picks SQLite's code for it.
func (f *file) writeError(err error) error {
	f.setError(err)
	if diskFull(err) {
		setWriteFull()
		return sqlite3vfs.FullError
	}
	return sqlite3vfs.IOErrorWrite
}

// Truncate implements sqlite3vfs.File.
func (f *file) Truncate(size int64) error {
	f.mu.Lock()
	txn := f.txn
	f.mu.Unlock()
	if txn == nil {
		return sqlite3vfs.ReadOnlyError
	}
	if ps := int64(txn.PageSize()); ps > 0 {
		txn.Truncate(uint32((size + ps - 1) / ps))
	}
	return nil
}

// Sync implements sqlite3vfs.File. The commit happened at the
// SQLITE_FCNTL_SYNC that SQLite sends just before.
func (f *file) Sync(flag sqlite3vfs.SyncType) error { return nil }

// commit stores the write transaction; SQLite syncs the database file
// when it commits (and when a rollback wrote original pages back: the
// transaction then has nothing new to store). It returns a SQLite code.
func (f *file) commit() int {
	f.mu.Lock()
	txn := f.txn
	f.mu.Unlock()
	if txn == nil {
		return sqliteOK
	}
	ctx, cancel := context.WithTimeout(f.db.Context(), commitTimeout)
	defer cancel()
	v, err := txn.Commit(ctx)
	if err == nil {
		f.mu.Lock()
		if f.txn == txn && f.pinned != nil {
			f.pinned = v // what the connection reads until it unlocks
		}
		f.mu.Unlock()
		return sqliteOK
	}
	f.setError(err)
	f.db.Logger().Warn("commit failed; SQLite rolls the transaction back", "err", err)
	switch {
	case errors.Is(err, engine.ErrConflict), errors.Is(err, engine.ErrStale):
		return sqliteBusySnapshot
	case errors.Is(err, engine.ErrReadOnly):
		return sqliteReadOnly
	case diskFull(err):
		return sqliteFull
	}
	return sqliteIOErrFsync
}

// diskFull reports whether err means the local disk cannot take the
// write buffer's data: no space left, or a file size limit reached.
func diskFull(err error) bool {
	return errors.Is(err, syscall.ENOSPC) || errors.Is(err, syscall.EFBIG) || errors.Is(err, syscall.EDQUOT)
}

// strataFileSync is shim.c's SQLITE_FCNTL_SYNC of a main database file.
//
//export strataFileSync
func strataFileSync(h C.uintptr_t) (rc C.int) {
	var f *file
	defer func() {
		if r := recover(); r != nil {
			if f != nil {
				err := fmt.Errorf("internal error in strata commit (recovered; please report it): %v", r)
				f.setError(err)
				f.vfs.cfg.Logger.Error("panic in commit", "err", err)
			}
			rc = sqliteIOErrFsync
		}
	}()
	f, ok := cgo.Handle(h).Value().(*file)
	if !ok {
		return sqliteOK
	}
	return C.int(f.commit())
}
