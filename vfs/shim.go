package vfs

// The C side of the VFS is shim.c: see its comment for what it does that
// the Go interface of sqlite3vfs cannot.

// #include <stdlib.h>
// #include "shim.h"
import "C"

import (
	"fmt"
	"runtime/cgo"
	"unsafe"
)

// wrapVFS installs the shim on the registered VFS, and makes it the
// default VFS when asked.
func wrapVFS(name string, makeDefault bool) error {
	cname := C.CString(name) // kept for the life of the process, like the VFS
	dflt := C.int(0)
	if makeDefault {
		dflt = 1
	}
	if rc := C.strata_wrap_vfs(cname, dflt); rc != 0 {
		return fmt.Errorf("wrap VFS %s: SQLite error %d", name, int(rc))
	}
	return nil
}

// setPragmaError leaves msg for strata_file_control to return to SQLite.
func setPragmaError(msg string) {
	cmsg := C.CString(msg)
	defer C.free(unsafe.Pointer(cmsg))
	C.strata_set_pragma_error(cmsg)
}

// readingDB is the SQLite connection (sqlite3*) whose read runs on this
// thread, or nil: call it from a read callback.
func readingDB() unsafe.Pointer { return C.strata_reading_db() }

// interrupted reports whether the connection db was interrupted. It is
// safe from any thread (sqlite3_is_interrupted reads a flag).
func interrupted(db unsafe.Pointer) bool { return C.strata_is_interrupted(db) != 0 }

// setOpening tells shim.c which Go file the running xOpen made, so that
// it can hand the file its SQLITE_FCNTL_SYNC (it is read back on this
// thread when the open returns).
func setOpening(h cgo.Handle) { C.strata_set_opening(C.uintptr_t(h)) }

// setWriteFull tells shim.c that the xWrite running on this thread failed
// because the local disk is full: SQLite then gets SQLITE_FULL.
func setWriteFull() { C.strata_set_write_full() }
