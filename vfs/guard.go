package vfs

import (
	"fmt"
	"runtime/debug"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/internal/safe"
)

// A Go panic under a SQLite callback would unwind through C frames and kill
// the host process: the sqlite3 shell, a Python interpreter, a Node
// server. Every call SQLite makes into this package therefore goes through
// a guard that recovers, logs the panic with its stack, records it as the
// connection's (and the process's) last error, and answers SQLite with
// SQLITE_IOERR. guardedVFS and guardedFile are those guards; the methods
// they wrap never see SQLite directly.

// recover turns a panic into SQLITE_IOERR for op, logs it and records it
// as the connection's and the process's last error. Deferred:
// `defer v.recover("xRead", f, &err)`.
func (v *VFS) recover(op string, f *file, errp *error) {
	r := recover()
	if r == nil {
		return
	}
	perr := &safe.PanicError{Op: op, Value: r, Stack: debug.Stack()}
	if log := v.cfg.Logger; log != nil {
		log.Error("panic under a SQLite callback", "op", op, "panic", fmt.Sprint(r), "stack", string(perr.Stack))
	}
	if f != nil {
		f.setError(perr)
	}
	v.setError(perr)
	if errp != nil {
		*errp = sqlite3vfs.IOError
	}
}

// guardedVFS is the VFS as SQLite sees it.
type guardedVFS struct{ v *VFS }

func (g guardedVFS) OpenURI(name string, params map[string]string, flags sqlite3vfs.OpenFlag) (f sqlite3vfs.File, out sqlite3vfs.OpenFlag, err error) {
	defer g.v.recover("xOpen", nil, &err)
	f, out, err = g.v.OpenURI(name, params, flags)
	if err != nil {
		return nil, 0, err
	}
	if mf, ok := f.(*file); ok {
		return guardedFile{mf}, out, nil
	}
	return f, out, nil
}

func (g guardedVFS) Open(name string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	return g.OpenURI(name, nil, flags)
}

func (g guardedVFS) Delete(name string, dirSync bool) (err error) {
	defer g.v.recover("xDelete", nil, &err)
	return g.v.Delete(name, dirSync)
}

func (g guardedVFS) Access(name string, flags sqlite3vfs.AccessFlag) (ok bool, err error) {
	defer g.v.recover("xAccess", nil, &err)
	return g.v.Access(name, flags)
}

func (g guardedVFS) FullPathname(name string) (out string) {
	defer func() {
		var err error
		g.v.recover("xFullPathname", nil, &err)
		if err != nil {
			out = name
		}
	}()
	return g.v.FullPathname(name)
}

// guardedFile is a replica's main database file as SQLite sees it.
type guardedFile struct{ f *file }

func (g guardedFile) Close() (err error) {
	defer g.f.vfs.recover("xClose", g.f, &err)
	return g.f.Close()
}

func (g guardedFile) ReadAt(p []byte, off int64) (n int, err error) {
	defer g.f.vfs.recover("xRead", g.f, &err)
	return g.f.ReadAt(p, off)
}

func (g guardedFile) WriteAt(p []byte, off int64) (n int, err error) {
	defer g.f.vfs.recover("xWrite", g.f, &err)
	return g.f.WriteAt(p, off)
}

func (g guardedFile) Truncate(size int64) (err error) {
	defer g.f.vfs.recover("xTruncate", g.f, &err)
	return g.f.Truncate(size)
}

func (g guardedFile) Sync(flag sqlite3vfs.SyncType) (err error) {
	defer g.f.vfs.recover("xSync", g.f, &err)
	return g.f.Sync(flag)
}

func (g guardedFile) FileSize() (n int64, err error) {
	defer g.f.vfs.recover("xFileSize", g.f, &err)
	return g.f.FileSize()
}

func (g guardedFile) Lock(l sqlite3vfs.LockType) (err error) {
	defer g.f.vfs.recover("xLock", g.f, &err)
	return g.f.Lock(l)
}

func (g guardedFile) Unlock(l sqlite3vfs.LockType) (err error) {
	defer g.f.vfs.recover("xUnlock", g.f, &err)
	return g.f.Unlock(l)
}

func (g guardedFile) CheckReservedLock() (ok bool, err error) {
	defer g.f.vfs.recover("xCheckReservedLock", g.f, &err)
	return g.f.CheckReservedLock()
}

func (g guardedFile) SectorSize() (n int64) {
	defer func() {
		var err error
		g.f.vfs.recover("xSectorSize", g.f, &err)
		if err != nil {
			n = 4096
		}
	}()
	return g.f.SectorSize()
}

func (g guardedFile) DeviceCharacteristics() (d sqlite3vfs.DeviceCharacteristic) {
	defer func() {
		var err error
		g.f.vfs.recover("xDeviceCharacteristics", g.f, &err)
		if err != nil {
			d = 0
		}
	}()
	return g.f.DeviceCharacteristics()
}

func (g guardedFile) FileControl(op int, name string, value *string) (res *string, err error) {
	defer g.f.vfs.recover("xFileControl", g.f, &err)
	return g.f.FileControl(op, name, value)
}
