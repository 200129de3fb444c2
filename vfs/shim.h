// Declarations of shim.c, the C side of the strata VFS.
#ifndef STRATA_SHIM_H
#define STRATA_SHIM_H

#include <stdint.h>
#ifdef SQLITE3VFS_LOADABLE_EXT
#include <sqlite3ext.h>
SQLITE_EXTENSION_INIT3
#else
#include <sqlite3.h>
#endif

int strata_wrap_vfs(const char *name, int make_default);
void strata_set_pragma_error(const char *msg);
void strata_set_opening(uintptr_t handle);
void *strata_reading_db(void);
int strata_is_interrupted(void *db);
void strata_set_write_full(void);

#endif
