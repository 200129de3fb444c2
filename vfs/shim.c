// The C side of the strata VFS; see shim.go.

#include <stdlib.h>
#include <string.h>
#include <pthread.h>
#include "shim.h"
#include "_cgo_export.h"

// This shim wraps the VFS that sqlite3vfs registers, for what its Go
// interface cannot carry:
//
//  1. sqlite3vfs turns a Go error from FileControl into a bare result
//     code, so SQLite would report a failed strata pragma as "SQL logic
//     error". The shim's xFileControl hands SQLite the message that the Go
//     side left in a thread-local slot (the Go callback runs on the
//     calling C thread, so the slot is that call's own).
//  2. A commit happens when SQLite syncs the database file:
//     SQLITE_FCNTL_SYNC comes just before xSync, and also in its place
//     when PRAGMA synchronous=OFF skips xSync. The shim hands it to the Go
//     file (strataFileSync), whose result code (SQLITE_BUSY_SNAPSHOT for
//     a write conflict) SQLite then sees as the commit's.
//  3. A read blocked on storage must stop when the connection is
//     interrupted (sqlite3_interrupt: a cancelled QueryContext, Ctrl-C).
//     SQLite tells a file its connection once, with SQLITE_FCNTL_PDB; the
//     shim remembers it per file, and its xRead names the file being read
//     in a thread-local slot, so the Go read can ask which connection it
//     serves (strata_reading_db) and poll sqlite3_is_interrupted from a
//     watcher while it waits.
//  4. sqlite3vfs answers every failed xWrite with SQLITE_IOERR_WRITE. When
//     the local disk is full (the write buffer, the overlay, a journal),
//     the Go side flags it in a thread-local slot and the shim's xWrite
//     answers SQLITE_FULL, as SQLite's own VFS does.

static sqlite3_vfs strata_vfs;
static int (*strata_inner_open)(sqlite3_vfs*, const char*, sqlite3_file*, int, int*);
static const sqlite3_io_methods *strata_inner_io;
static sqlite3_io_methods strata_io;
static pthread_mutex_t strata_io_mu = PTHREAD_MUTEX_INITIALIZER;
static __thread char *strata_pragma_err;
static __thread int strata_write_full; // the running xWrite found the disk full

// What the shim knows of each open main database file, guarded by
// strata_io_mu: a short list, one entry per open connection. handle is
// the Go file (a cgo.Handle), db its connection (from SQLITE_FCNTL_PDB).
typedef struct strata_pdb {
	sqlite3_file *file;
	uintptr_t handle;
	sqlite3 *db;
	struct strata_pdb *next;
} strata_pdb;
static strata_pdb *strata_pdbs;
static __thread sqlite3_file *strata_reading; // the file this thread's xRead serves
static __thread uintptr_t strata_opening;     // the Go file the running xOpen made

// strata_entry finds (or with create, adds) the entry of f. Call it with
// strata_io_mu held.
static strata_pdb *strata_entry(sqlite3_file *f, int create) {
	strata_pdb *p;
	for (p = strata_pdbs; p != NULL && p->file != f; p = p->next) {
	}
	if (p == NULL && create && (p = calloc(1, sizeof(*p))) != NULL) {
		p->file = f;
		p->next = strata_pdbs;
		strata_pdbs = p;
	}
	return p;
}

static void strata_remember_db(sqlite3_file *f, sqlite3 *db) {
	strata_pdb *p;
	pthread_mutex_lock(&strata_io_mu);
	if ((p = strata_entry(f, 1)) != NULL) p->db = db;
	pthread_mutex_unlock(&strata_io_mu);
}

static uintptr_t strata_handle(sqlite3_file *f) {
	strata_pdb *p;
	uintptr_t h = 0;
	pthread_mutex_lock(&strata_io_mu);
	if ((p = strata_entry(f, 0)) != NULL) h = p->handle;
	pthread_mutex_unlock(&strata_io_mu);
	return h;
}

void strata_set_opening(uintptr_t handle) { strata_opening = handle; }

static void strata_forget_db(sqlite3_file *f) {
	strata_pdb **pp, *p;
	pthread_mutex_lock(&strata_io_mu);
	for (pp = &strata_pdbs; (p = *pp) != NULL; pp = &p->next) {
		if (p->file == f) {
			*pp = p->next;
			free(p);
			break;
		}
	}
	pthread_mutex_unlock(&strata_io_mu);
}

// strata_reading_db is the connection whose read runs on this thread, or NULL.
void *strata_reading_db(void) {
	strata_pdb *p;
	void *db = NULL;
	if (strata_reading == NULL) return NULL;
	pthread_mutex_lock(&strata_io_mu);
	for (p = strata_pdbs; p != NULL; p = p->next) {
		if (p->file == strata_reading) {
			db = p->db;
			break;
		}
	}
	pthread_mutex_unlock(&strata_io_mu);
	return db;
}

// strata_is_interrupted reports whether db was interrupted. It needs
// sqlite3_is_interrupted (SQLite 3.41): the library strata links has it;
// a host that loads the extension may be older, and its routine table
// has no such entry, so the extension does not watch for interrupts.
#ifdef SQLITE3VFS_LOADABLE_EXT
int strata_is_interrupted(void *db) {
	(void)db;
	return 0;
}
#else
int sqlite3_is_interrupted(sqlite3 *);
int strata_is_interrupted(void *db) { return db != NULL && sqlite3_is_interrupted((sqlite3 *)db); }
#endif

static int strata_read(sqlite3_file *f, void *buf, int n, sqlite3_int64 off) {
	sqlite3_file *outer = strata_reading;
	int rc;
	strata_reading = f;
	rc = strata_inner_io->xRead(f, buf, n, off);
	strata_reading = outer;
	return rc;
}

void strata_set_write_full(void) { strata_write_full = 1; }

static int strata_write(sqlite3_file *f, const void *buf, int n, sqlite3_int64 off) {
	int rc;
	strata_write_full = 0;
	rc = strata_inner_io->xWrite(f, buf, n, off);
	if (rc == SQLITE_IOERR_WRITE && strata_write_full) rc = SQLITE_FULL;
	strata_write_full = 0;
	return rc;
}

static int strata_close(sqlite3_file *f) {
	strata_forget_db(f);
	return strata_inner_io->xClose(f);
}

static int strata_file_control(sqlite3_file *f, int op, void *arg) {
	int rc;
	if (op == SQLITE_FCNTL_PDB) {
		strata_remember_db(f, *(sqlite3 **)arg);
		return SQLITE_NOTFOUND; // a hint: nothing else to do
	}
	if (op == SQLITE_FCNTL_SYNC) {
		uintptr_t h = strata_handle(f);
		return h == 0 ? SQLITE_NOTFOUND : strataFileSync(h);
	}
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
	int rc;
	uintptr_t h;
	strata_opening = 0;
	rc = strata_inner_open(vfs, name, f, flags, out);
	h = strata_opening;
	strata_opening = 0;
	if (rc != SQLITE_OK) {
		// sqlite3vfs sets pMethods even when its open fails, and SQLite then
		// calls xClose on the file: with the id the failed open never set
		// (0), which closed whichever file first got that id, under another
		// connection. A failed open must leave pMethods NULL.
		f->pMethods = NULL;
		return rc;
	}
	if (f->pMethods == NULL) return rc;
	if (h != 0) {
		pthread_mutex_lock(&strata_io_mu);
		strata_pdb *p = strata_entry(f, 1);
		if (p != NULL) p->handle = h;
		pthread_mutex_unlock(&strata_io_mu);
	}
	pthread_mutex_lock(&strata_io_mu);
	if (strata_inner_io == NULL) {
		strata_inner_io = f->pMethods;
		strata_io = *strata_inner_io;
		strata_io.xFileControl = strata_file_control;
		strata_io.xRead = strata_read;
		strata_io.xWrite = strata_write;
		strata_io.xClose = strata_close;
	}
	pthread_mutex_unlock(&strata_io_mu);
	if (f->pMethods == strata_inner_io) f->pMethods = &strata_io;
	return rc;
}

// strata_wrap_vfs replaces the VFS registered under name by a copy whose
// xOpen installs strata_file_control. The copy keeps the name, which is how
// sqlite3vfs finds its Go VFS from the C one. make_default makes it the
// process's default VFS.
// strata_get_last_error answers sqlite3_system_errno for strata files.
// sqlite3vfs hands the question to the OS VFS, whose errno belongs to some
// unrelated call, and clients print it after SQLite's message ("disk I/O
// error: invalid argument"). strata's reasons are in strata_last_error.
static int strata_get_last_error(sqlite3_vfs *vfs, int n, char *buf) {
	(void)vfs;
	if (n > 0 && buf != NULL) buf[0] = 0;
	return 0;
}

int strata_wrap_vfs(const char *name, int make_default) {
	sqlite3_vfs *inner = sqlite3_vfs_find(name);
	if (inner == NULL) return SQLITE_ERROR;
	strata_vfs = *inner;
	strata_inner_open = inner->xOpen;
	strata_vfs.xOpen = strata_open;
	strata_vfs.xGetLastError = strata_get_last_error;
	sqlite3_vfs_unregister(inner);
	return sqlite3_vfs_register(&strata_vfs, make_default);
}

void strata_set_pragma_error(const char *msg) {
	free(strata_pragma_err);
	strata_pragma_err = strdup(msg);
}
