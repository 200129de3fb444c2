package vfs

/*
#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#ifdef SQLITE3VFS_LOADABLE_EXT
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

// sqlite3vfs turns a Go error from FileControl into a bare result code, so
// SQLite would report a failed strata pragma as "SQL logic error". This
// shim wraps the registered VFS: its xFileControl hands SQLite the message
// that the Go side left in a thread-local slot (the Go callback runs on the
// calling C thread, so the slot is that call's own).

static sqlite3_vfs strata_vfs;
static int (*strata_inner_open)(sqlite3_vfs*, const char*, sqlite3_file*, int, int*);
static const sqlite3_io_methods *strata_inner_io;
static sqlite3_io_methods strata_io;
static pthread_mutex_t strata_io_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread char *strata_pragma_err;

static int strata_file_control(sqlite3_file *f, int op, void *arg) {
	int rc;
	if (op != SQLITE_FCNTL_PRAGMA) return strata_inner_io->xFileControl(f, op, arg);
	free(strata_pragma_err);
	strata_pragma_err = NULL;
	rc = strata_inner_io->xFileControl(f, op, arg);
	if (rc != SQLITE_OK && rc != SQLITE_NOTFOUND && strata_pragma_err != NULL) {
		((char**)arg)[0] = sqlite3_mprintf("%s", strata_pragma_err);
	}
	free(strata_pragma_err);
	strata_pragma_err = NULL;
	return rc;
}

static int strata_open(sqlite3_vfs *vfs, const char *name, sqlite3_file *f, int flags, int *out) {
	int rc = strata_inner_open(vfs, name, f, flags, out);
	if (rc != SQLITE_OK || f->pMethods == NULL) return rc;
	pthread_mutex_lock(&strata_io_mu);
	if (strata_inner_io == NULL) {
		strata_inner_io = f->pMethods;
		strata_io = *strata_inner_io;
		strata_io.xFileControl = strata_file_control;
	}
	pthread_mutex_unlock(&strata_io_mu);
	if (f->pMethods == strata_inner_io) f->pMethods = &strata_io;
	return rc;
}

// strata_wrap_vfs replaces the VFS registered under name by a copy whose
// xOpen installs strata_file_control. The copy keeps the name, which is how
// sqlite3vfs finds its Go VFS from the C one. make_default makes it the
// process's default VFS.
static int strata_wrap_vfs(const char *name, int make_default) {
	sqlite3_vfs *inner = sqlite3_vfs_find(name);
	if (inner == NULL) return SQLITE_ERROR;
	strata_vfs = *inner;
	strata_inner_open = inner->xOpen;
	strata_vfs.xOpen = strata_open;
	sqlite3_vfs_unregister(inner);
	return sqlite3_vfs_register(&strata_vfs, make_default);
}

static void strata_set_pragma_error(const char *msg) {
	free(strata_pragma_err);
	strata_pragma_err = strdup(msg);
}
*/
import "C"

import (
	"fmt"
	"unsafe"
)

// wrapPragmaErrors installs the shim above on the registered VFS, and
// makes it the default VFS when asked.
func wrapPragmaErrors(name string, makeDefault bool) error {
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
