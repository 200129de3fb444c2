package main

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"syscall"
	"time"
)

// SQLite's locks on a database file (the unix VFS, rollback-journal mode)
// are POSIX advisory locks on bytes of the lock page, whatever the file's
// size: a reader holds a read lock on one byte of the SHARED range; a
// writer write-locks RESERVED, then PENDING (no new readers), then the
// whole SHARED range (EXCLUSIVE: no reader left). Follow mode takes
// exactly these locks, so that a SQLite reader never reads the file while
// a transaction is being written into it.
const (
	pendingByte  = 0x40000000
	reservedByte = pendingByte + 1
	sharedFirst  = pendingByte + 2
	sharedSize   = 510
	// shmDMS is the byte of a WAL-mode database's -shm file that every
	// connection having the database open read-locks.
	shmDMS = 128
)

func fcntlLock(f *os.File, typ int16, start, length int64, wait bool) error {
	lk := syscall.Flock_t{Type: typ, Whence: 0, Start: start, Len: length}
	cmd := syscall.F_SETLK
	if wait {
		cmd = syscall.F_SETLKW
	}
	for {
		err := syscall.FcntlFlock(f.Fd(), cmd, &lk)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// lockHolder returns the process holding a lock that conflicts with a
// write lock on [start, start+length) of path, or 0.
func lockHolder(path string, start, length int64) (int, error) {
	f, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return 0, nil
	}
	if err != nil {
		return 0, err
	}
	defer f.Close() // we hold no lock on path: closing releases none
	lk := syscall.Flock_t{Type: syscall.F_WRLCK, Whence: 0, Start: start, Len: length}
	if err := syscall.FcntlFlock(f.Fd(), syscall.F_GETLK, &lk); err != nil {
		return 0, fmt.Errorf("test locks of %s: %w", path, err)
	}
	if lk.Type == syscall.F_UNLCK {
		return 0, nil
	}
	return int(lk.Pid), nil
}

// sqliteLockHolder returns a process that has path open as a SQLite
// database (holding a lock on it, or on its -shm in WAL mode), or 0.
func sqliteLockHolder(path string) (int, error) {
	if pid, err := lockHolder(path, pendingByte, 2+sharedSize); pid != 0 || err != nil {
		return pid, err
	}
	return lockHolder(path+"-shm", shmDMS, 1)
}

// sqliteWriteLock takes SQLite's EXCLUSIVE lock on f the way a SQLite
// writer does, waiting up to timeout for readers to finish; while it
// waits it holds PENDING, so that no new reader starts. unlock releases
// every lock.
func sqliteWriteLock(f *os.File, timeout time.Duration) (unlock func(), err error) {
	unlock = func() { fcntlLock(f, syscall.F_UNLCK, pendingByte, 2+sharedSize, false) }
	deadline := time.Now().Add(timeout)
	for _, r := range [][2]int64{{reservedByte, 1}, {pendingByte, 1}, {sharedFirst, sharedSize}} {
		for {
			err := fcntlLock(f, syscall.F_WRLCK, r[0], r[1], false)
			if err == nil {
				break
			}
			if !errors.Is(err, syscall.EAGAIN) && !errors.Is(err, syscall.EACCES) {
				unlock()
				return nil, fmt.Errorf("lock %s: %w", f.Name(), err)
			}
			if time.Now().After(deadline) {
				unlock()
				return nil, fmt.Errorf("%s: %w", f.Name(), errBusy)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
	return unlock, nil
}

// errBusy is returned when readers kept the database busy too long.
var errBusy = errors.New("database is busy: SQLite readers held it for the whole wait")
