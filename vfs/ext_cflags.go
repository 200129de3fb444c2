//go:build SQLITE3VFS_LOADABLE_EXT

package vfs

// Built into the loadable extension (extension/), the package's C code
// (pragma_c.go) must call SQLite through the sqlite3_api routines table the
// host hands the extension, like github.com/psanford/sqlite3vfs does with
// the same tag. Without this flag it would reference sqlite3_mprintf,
// sqlite3_vfs_find, ... directly: undefined symbols in strata.so, which a
// host that loads its SQLite privately (Python) cannot resolve, and which
// could bind to a different SQLite than the one that loaded the extension.

// #cgo CFLAGS: -DSQLITE3VFS_LOADABLE_EXT=1
import "C"
