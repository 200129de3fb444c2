//go:build SQLITE3VFS_LOADABLE_EXT

// The loadable extension's C side: the entry point SQLite calls on
// `.load` / load_extension(), and the strata_* SQL functions.
//
// The SQL functions do not reimplement anything: they send the
// connection's database file the same SQLITE_FCNTL_PRAGMA file control
// that `PRAGMA strata_time` sends, so functions and pragmas share one Go
// implementation (vfs/pragma.go) and one set of error messages.

#include <stdlib.h>
#include <string.h>
#include <sqlite3ext.h>

// sqlite3_api is defined by github.com/psanford/sqlite3vfs
// (SQLITE_EXTENSION_INIT1) and shared by every C file of the extension.
// Declaring it hidden here makes the linker keep it out of the dynamic
// symbol table: the extension exports no sqlite3_* symbol but its entry
// point, so it cannot interpose on another extension's sqlite3_api.
extern const sqlite3_api_routines *sqlite3_api __attribute__((visibility("hidden")));

#include "_cgo_export.h"

// strata needs sqlite3_uri_key (3.31.0); calling it through an older
// library's shorter sqlite3_api_routines would read past its end.
#define STRATA_MIN_SQLITE 3031000
#define STRATA_MIN_SQLITE_TEXT "3.31.0"

// One SQL function: the pragma it runs and what it returns.
typedef struct strata_fn {
	const char *name;   // SQL function name
	const char *pragma; // pragma sent through SQLITE_FCNTL_PRAGMA
	int nvalue;         // 1 if the first argument is the pragma's value
	int real;           // 1 if the result is a REAL (else TEXT)
} strata_fn;

static const strata_fn strata_fns[] = {
	{"strata_time", "strata_time", 0, 0},
	{"strata_set_time", "strata_time", 1, 0},
	{"strata_txid", "strata_txid", 0, 0},
	{"strata_lag", "strata_lag", 0, 1},
	{"strata_sync", "strata_sync", 0, 0},
	{"strata_hydration", "strata_hydration", 0, 0},
	{"strata_hydration_progress", "strata_hydration_progress", 0, 1},
};

// strata_call runs the function's pragma on one attached database (main
// unless the last argument names another schema).
static void strata_call(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	const strata_fn *fn = (const strata_fn *)sqlite3_user_data(ctx);
	sqlite3 *db = sqlite3_context_db_handle(ctx);
	const char *value = NULL;
	const char *schema = "main";
	sqlite3_vfs *vfs = NULL;
	char *az[3];
	int rc;

	if (fn->nvalue) {
		if (sqlite3_value_type(argv[0]) == SQLITE_NULL) {
			char *msg = sqlite3_mprintf("%s(): the time must not be NULL (use 'latest' to follow new commits)", fn->name);
			sqlite3_result_error(ctx, msg, -1);
			sqlite3_free(msg);
			return;
		}
		value = (const char *)sqlite3_value_text(argv[0]);
		if (value == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
	}
	if (argc > fn->nvalue && sqlite3_value_type(argv[fn->nvalue]) != SQLITE_NULL) {
		schema = (const char *)sqlite3_value_text(argv[fn->nvalue]);
		if (schema == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
	}

	rc = sqlite3_file_control(db, schema, SQLITE_FCNTL_VFS_POINTER, &vfs);
	if (rc != SQLITE_OK) {
		// strata_time('5 minutes ago') is an easy slip for strata_set_time.
		char *msg = sqlite3_mprintf("%s(): no database named '%s'%s", fn->name, schema,
			strcmp(fn->name, "strata_time") == 0 ? " (the optional argument is a schema name; to change the time use strata_set_time(value))" : "");
		sqlite3_result_error(ctx, msg, -1);
		sqlite3_free(msg);
		return;
	}
	if (vfs == NULL || vfs->zName == NULL || strcmp(vfs->zName, "strata") != 0) {
		char *msg = sqlite3_mprintf("%s(): '%s' is not a strata database (open it with file:NAME?vfs=strata&replica=URL)", fn->name, schema);
		sqlite3_result_error(ctx, msg, -1);
		sqlite3_free(msg);
		return;
	}

	az[0] = NULL;
	az[1] = (char *)fn->pragma;
	az[2] = (char *)value;
	rc = sqlite3_file_control(db, schema, SQLITE_FCNTL_PRAGMA, az);
	if (rc == SQLITE_OK) {
		if (az[0] == NULL) {
			sqlite3_result_null(ctx);
		} else if (fn->real) {
			sqlite3_result_double(ctx, strtod(az[0], NULL));
		} else {
			sqlite3_result_text(ctx, az[0], -1, SQLITE_TRANSIENT);
		}
	} else if (rc == SQLITE_NOTFOUND) {
		// The database uses the strata VFS but its file is not a replica
		// (a journal or temp file never reaches here), or it is not open yet.
		char *msg = sqlite3_mprintf("%s(): '%s' is not a strata database", fn->name, schema);
		sqlite3_result_error(ctx, msg, -1);
		sqlite3_free(msg);
	} else if (az[0] != NULL) {
		sqlite3_result_error(ctx, az[0], -1);
	} else {
		sqlite3_result_error(ctx, sqlite3_errstr(rc), -1);
	}
	sqlite3_free(az[0]);
}

// strata_environ is the host's environment variable i ("NAME=value"), or
// NULL past the last: the Go side reads the environment as it is now.
extern char **environ;
__attribute__((visibility("hidden"))) char *strata_environ(int i) { return environ[i]; }

// strata_last_error(): why this connection's strata database (main, or
// the schema named by the optional argument) last failed an operation, or
// NULL. On a connection whose database is not a strata file (the failed
// open left none), it is why the most recent failed open of a strata
// database in this process failed.
static void strata_last_error(sqlite3_context *ctx, int argc, sqlite3_value **argv) {
	sqlite3 *db = sqlite3_context_db_handle(ctx);
	const char *schema = "main";
	sqlite3_vfs *vfs = NULL;
	char *err;
	if (argc > 0 && sqlite3_value_type(argv[0]) != SQLITE_NULL) {
		schema = (const char *)sqlite3_value_text(argv[0]);
		if (schema == NULL) {
			sqlite3_result_error_nomem(ctx);
			return;
		}
	}
	if (sqlite3_file_control(db, schema, SQLITE_FCNTL_VFS_POINTER, &vfs) == SQLITE_OK &&
	    vfs != NULL && vfs->zName != NULL && strcmp(vfs->zName, "strata") == 0) {
		char *az[3] = {NULL, "strata_last_error", NULL};
		int rc = sqlite3_file_control(db, schema, SQLITE_FCNTL_PRAGMA, az);
		if (rc == SQLITE_OK) {
			if (az[0] == NULL) {
				sqlite3_result_null(ctx);
			} else {
				sqlite3_result_text(ctx, az[0], -1, SQLITE_TRANSIENT);
			}
			sqlite3_free(az[0]);
			return;
		}
		sqlite3_free(az[0]);
	}
	err = strataLastOpenError();
	if (err == NULL) {
		sqlite3_result_null(ctx);
		return;
	}
	sqlite3_result_text(ctx, err, -1, SQLITE_TRANSIENT);
	free(err);
}

// strata_register_functions registers the SQL functions on db. It is the
// auto-extension every later connection of the process runs, too.
static int strata_register_functions(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
	size_t i;
	int rc;
	(void)pApi; // the process's SQLite is the one sqlite3_api already points at
	for (i = 0; i < sizeof(strata_fns) / sizeof(strata_fns[0]); i++) {
		const strata_fn *fn = &strata_fns[i];
		// strata_set_time changes the connection's state: keep it out of
		// triggers and views, where it would run behind the user's back.
		int flags = SQLITE_UTF8 | (fn->nvalue ? SQLITE_DIRECTONLY : 0);
		// Without a schema argument: the main database.
		rc = sqlite3_create_function_v2(db, fn->name, fn->nvalue, flags, (void *)fn, strata_call, NULL, NULL, NULL);
		// With one: strata_txid('b') for a replica attached AS b.
		if (rc == SQLITE_OK) {
			rc = sqlite3_create_function_v2(db, fn->name, fn->nvalue + 1, flags, (void *)fn, strata_call, NULL, NULL, NULL);
		}
		if (rc != SQLITE_OK) {
			if (pzErrMsg != NULL) {
				*pzErrMsg = sqlite3_mprintf("strata: registering %s(): %s", fn->name, sqlite3_errmsg(db));
			}
			return rc;
		}
	}
	rc = sqlite3_create_function_v2(db, "strata_last_error", 0, SQLITE_UTF8, NULL, strata_last_error, NULL, NULL, NULL);
	if (rc == SQLITE_OK) {
		rc = sqlite3_create_function_v2(db, "strata_last_error", 1, SQLITE_UTF8, NULL, strata_last_error, NULL, NULL, NULL);
	}
	if (rc != SQLITE_OK && pzErrMsg != NULL) {
		*pzErrMsg = sqlite3_mprintf("strata: registering strata_last_error(): %s", sqlite3_errmsg(db));
	}
	return rc;
}

#ifdef _WIN32
__declspec(dllexport)
#endif
int sqlite3_strata_init(sqlite3 *db, char **pzErrMsg, const sqlite3_api_routines *pApi) {
	char *err;
	int rc;

	// Check the version through pApi before anything else: every field
	// used here exists in every SQLite that can load extensions.
	if (pApi->libversion_number() < STRATA_MIN_SQLITE) {
		*pzErrMsg = pApi->mprintf("strata: SQLite %s is too old; the strata extension needs SQLite " STRATA_MIN_SQLITE_TEXT " or later", pApi->libversion());
		return SQLITE_ERROR;
	}
	// The VFS is registered with one SQLite library for the life of the
	// process; a second, different library in the same process would
	// swap the routines the first one's VFS calls.
	if (sqlite3_api != NULL && sqlite3_api != pApi) {
		*pzErrMsg = pApi->mprintf("strata: already loaded into a different SQLite library in this process");
		return SQLITE_ERROR;
	}
	SQLITE_EXTENSION_INIT2(pApi);

	err = strataExtLoad();
	if (err != NULL) {
		*pzErrMsg = sqlite3_mprintf("%s", err);
		free(err);
		return SQLITE_ERROR;
	}
	rc = strata_register_functions(db, pzErrMsg, pApi);
	if (rc != SQLITE_OK) return rc;
	rc = sqlite3_auto_extension((void (*)(void))strata_register_functions);
	if (rc != SQLITE_OK) {
		*pzErrMsg = sqlite3_mprintf("strata: sqlite3_auto_extension: %s", sqlite3_errstr(rc));
		return rc;
	}
	// The Go runtime cannot be unloaded, and the VFS must outlive this
	// connection: ask SQLite never to dlclose the library.
	return SQLITE_OK_LOAD_PERMANENTLY;
}
