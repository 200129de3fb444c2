package vfs

import (
	"errors"
	"testing"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/internal/safe"
)

// A panic inside any method SQLite calls comes back to SQLite as
// SQLITE_IOERR, never as a crash of the host, and its message is the
// connection's last error (PRAGMA strata_last_error) and the process's.
func TestGuardTurnsPanicsIntoIOErrors(t *testing.T) {
	v := &VFS{cfg: Config{}.withDefaults()}
	// A file whose engine state is missing: every method that reaches it
	// dereferences nil.
	broken := &file{vfs: v}
	g := guardedFile{broken}
	calls := map[string]func() error{
		"xRead":     func() error { _, err := g.ReadAt(make([]byte, 10), 0); return err },
		"xFileSize": func() error { _, err := g.FileSize(); return err },
		"xLock":     func() error { return g.Lock(sqlite3vfs.LockShared) },
		"xFileControl": func() error {
			_, err := g.FileControl(14, "strata_txid", nil)
			return err
		},
	}
	for op, call := range calls {
		t.Run(op, func(t *testing.T) {
			err := call()
			if err != sqlite3vfs.IOError {
				t.Fatalf("%s after a panic returned %v, want SQLITE_IOERR", op, err)
			}
			var perr *safe.PanicError
			if !errors.As(broken.LastError(), &perr) || perr.Op != op {
				t.Errorf("connection's last error = %v, want the recovered panic of %s", broken.LastError(), op)
			}
			if !errors.As(v.LastError(), &perr) {
				t.Errorf("process's last error = %v, want the recovered panic", v.LastError())
			}
		})
	}

	// The guard of the VFS's own methods, with a VFS so broken that even
	// its logger is missing: the guard must not panic in turn.
	gv := guardedVFS{&VFS{}}
	if _, _, err := gv.OpenURI("x", nil, sqlite3vfs.OpenMainDB); err != sqlite3vfs.IOError {
		t.Errorf("open of a broken VFS = %v, want SQLITE_IOERR", err)
	}
}
