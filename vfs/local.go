package vfs

import (
	"os"

	"github.com/psanford/sqlite3vfs"
)

// localFile is a temp database, journal or sub-journal: plain local disk.
type localFile struct {
	f             *os.File
	deleteOnClose bool
}

// openLocal opens a side file on local disk. SQLite passes an empty name
// for anonymous temp files, which then live in the OS temp directory.
func openLocal(name string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	var (
		f   *os.File
		err error
	)
	if name == "" {
		f, err = os.CreateTemp("", "strata-temp-*")
		flags |= sqlite3vfs.OpenDeleteOnClose
	} else {
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
	return &localFile{f: f, deleteOnClose: flags&sqlite3vfs.OpenDeleteOnClose != 0}, flags, nil
}

func (l *localFile) Close() error {
	err := l.f.Close()
	if l.deleteOnClose {
		os.Remove(l.f.Name())
	}
	return err
}

func (l *localFile) ReadAt(p []byte, off int64) (int, error)  { return l.f.ReadAt(p, off) }
func (l *localFile) WriteAt(p []byte, off int64) (int, error) { return l.f.WriteAt(p, off) }
func (l *localFile) Truncate(size int64) error                { return l.f.Truncate(size) }
func (l *localFile) Sync(flag sqlite3vfs.SyncType) error      { return l.f.Sync() }

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
