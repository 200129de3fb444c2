package vfs

import (
	"os"
	"strings"
	"sync"

	"github.com/psanford/sqlite3vfs"
)

// localFile is a temp database, journal or sub-journal: plain local disk.
type localFile struct {
	f             *os.File
	deleteOnClose bool
	// journal is set for the rollback journal of a replica: a private
	// scratch file whose name is only SQLite's label for it.
	journal *journal
}

// journal ties a rollback journal to the connection whose transaction it
// serves. A replica's journal only ever serves that transaction's
// ROLLBACK: a replica has no hot journal to recover (whatever was not
// committed never reached storage), so the journal is not synced, is an
// anonymous scratch file emptied and kept for the next transaction when
// closed (journalPool), and two processes writing replicas under the same
// label never share one.
type journal struct {
	vfs  *VFS
	main string // the main database file's name
}

// openLocal opens a side file on local disk. SQLite passes an empty name
// for anonymous temp files, which then live in the OS temp directory.
func (v *VFS) openLocal(name string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	var (
		f   *os.File
		err error
		j   *journal
	)
	if flags&sqlite3vfs.OpenMainJournal != 0 && strings.HasSuffix(name, "-journal") {
		j = &journal{vfs: v, main: strings.TrimSuffix(name, "-journal")}
		name = ""
	}
	switch {
	case j != nil:
		f, err = v.journals.get()
		flags &^= sqlite3vfs.OpenDeleteOnClose
	case name == "":
		f, err = os.CreateTemp("", "strata-temp-*")
		flags |= sqlite3vfs.OpenDeleteOnClose
	default:
		mode := os.O_RDWR
		if flags&sqlite3vfs.OpenReadOnly != 0 {
			mode = os.O_RDONLY
		}
		if flags&sqlite3vfs.OpenCreate != 0 {
			mode |= os.O_CREATE
		}
		if flags&sqlite3vfs.OpenExclusive != 0 {
			mode |= os.O_EXCL
		}
		f, err = os.OpenFile(name, mode, 0o644)
	}
	if err != nil {
		return nil, 0, sqlite3vfs.CantOpenError
	}
	return &localFile{f: f, deleteOnClose: flags&sqlite3vfs.OpenDeleteOnClose != 0, journal: j}, flags, nil
}

func (l *localFile) Close() error {
	if l.journal != nil {
		l.journal.vfs.journals.put(l.f)
		return nil
	}
	err := l.f.Close()
	if l.deleteOnClose {
		os.Remove(l.f.Name())
	}
	return err
}

// ReadAt reads the file. SQLite reads a replica's journal only to roll
// its transaction back, which the transaction is told.
func (l *localFile) ReadAt(p []byte, off int64) (int, error) {
	if l.journal != nil {
		if w := l.journal.vfs.writer(l.journal.main); w != nil {
			w.journalRead()
		}
	}
	return l.f.ReadAt(p, off)
}

// WriteAt writes the file; a full disk is SQLite's SQLITE_FULL.
func (l *localFile) WriteAt(p []byte, off int64) (int, error) {
	n, err := l.f.WriteAt(p, off)
	if err != nil && diskFull(err) {
		setWriteFull()
	}
	return n, err
}
func (l *localFile) Truncate(size int64) error { return l.f.Truncate(size) }

// Sync syncs the file, except a replica's journal, which no crash
// recovery ever reads.
func (l *localFile) Sync(flag sqlite3vfs.SyncType) error {
	if l.journal != nil {
		return nil
	}
	return l.f.Sync()
}

func (l *localFile) FileSize() (int64, error) {
	st, err := l.f.Stat()
	if err != nil {
		return 0, err
	}
	return st.Size(), nil
}

// Side files belong to one connection, so no cross-process locking is needed.
func (l *localFile) Lock(sqlite3vfs.LockType) error                         { return nil }
func (l *localFile) Unlock(sqlite3vfs.LockType) error                       { return nil }
func (l *localFile) CheckReservedLock() (bool, error)                       { return false, nil }
func (l *localFile) SectorSize() int64                                      { return 4096 }
func (l *localFile) DeviceCharacteristics() sqlite3vfs.DeviceCharacteristic { return 0 }

// journalPool keeps the scratch files of ended transactions' journals for
// the next ones: SQLite opens and deletes its journal at every commit, and
// creating and unlinking a file costs more than a small commit in group
// commit mode. The files are unlinked at creation (nothing to clean up
// after a crash) and emptied when they come back. mu guards files; it is
// a leaf lock.
type journalPool struct {
	mu    sync.Mutex
	files []*os.File
}

// maxPooledJournals bounds the idle journal files kept open.
const maxPooledJournals = 4

// get returns an empty journal file.
func (p *journalPool) get() (*os.File, error) {
	p.mu.Lock()
	if n := len(p.files); n > 0 {
		f := p.files[n-1]
		p.files = p.files[:n-1]
		p.mu.Unlock()
		return f, nil
	}
	p.mu.Unlock()
	f, err := os.CreateTemp("", "strata-journal-*")
	if err != nil {
		return nil, err
	}
	_ = os.Remove(f.Name())
	return f, nil
}

// put takes back a journal file that SQLite closed.
func (p *journalPool) put(f *os.File) {
	if f.Truncate(0) == nil {
		p.mu.Lock()
		if len(p.files) < maxPooledJournals {
			p.files = append(p.files, f)
			p.mu.Unlock()
			return
		}
		p.mu.Unlock()
	}
	f.Close()
}
