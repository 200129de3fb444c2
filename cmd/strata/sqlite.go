package main

/*
#include <stdlib.h>
#include <sqlite3.h>

// Declared here, defined in Go (authorize.go): the authorizer of every
// connection the command opens.
extern int strataAuthorize(void*, int, char*, char*, char*, char*);

static int strata_set_authorizer(sqlite3 *db) {
	return sqlite3_set_authorizer(db, (int(*)(void*,int,const char*,const char*,const char*,const char*))strataAuthorize, 0);
}

// strata_prepare compiles the first statement of sql[0:n] and says where
// the rest begins (an offset, so that Go keeps no pointer into C memory).
static int strata_prepare(sqlite3 *db, const char *sql, int n, sqlite3_stmt **stmt, int *tail) {
	const char *rest = sql + n;
	int rc = sqlite3_prepare_v2(db, sql, n, stmt, &rest);
	*tail = (int)(rest - sql);
	return rc;
}
*/
import "C"

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"unsafe"

	// The SQLite library: the command runs its SQL through the SQLite
	// that go-sqlite3 compiles in, the one the strata VFS registers with.
	_ "github.com/mattn/go-sqlite3"
)

// The command talks to SQLite through its C interface rather than
// database/sql: like the sqlite3 shell it must print values as SQLite
// stores them (go-sqlite3 turns DATETIME columns into time.Time, and
// unparsable ones into the zero time), run every statement of a script
// where SQLite itself says each ends (sqlite3_prepare's tail), ask
// sqlite3_complete whether a typed line ends a statement, and interrupt one
// running statement without closing the connection.

// Result codes used by the command.
const (
	sqliteOK        = C.SQLITE_OK
	sqliteRow       = C.SQLITE_ROW
	sqliteDone      = C.SQLITE_DONE
	sqliteIOErr     = C.SQLITE_IOERR
	sqliteCantOpen  = C.SQLITE_CANTOPEN
	sqliteInterrupt = C.SQLITE_INTERRUPT
	sqliteBusy      = C.SQLITE_BUSY
	sqliteReadOnly  = C.SQLITE_READONLY
	sqliteFull      = C.SQLITE_FULL
)

// Column types as sqlite3_column_type reports them.
const (
	typeInteger = C.SQLITE_INTEGER
	typeFloat   = C.SQLITE_FLOAT
	typeText    = C.SQLITE_TEXT
	typeBlob    = C.SQLITE_BLOB
	typeNull    = C.SQLITE_NULL
)

// sqliteError is a failed SQLite call: its primary result code and message.
type sqliteError struct {
	Code int
	Msg  string
}

func (e *sqliteError) Error() string { return e.Msg }

// sqlConn is one SQLite connection. It is used by one goroutine at a time;
// only interrupt may be called from another.
type sqlConn struct {
	db *C.sqlite3
}

// openSQL opens uri (a URI filename), read-only unless writable, with the
// authorizer that keeps the connection from writing any file but the
// replica it opened (see authorize.go).
func openSQL(uri string, writable bool) (*sqlConn, error) {
	curi := C.CString(uri)
	defer C.free(unsafe.Pointer(curi))
	var db *C.sqlite3
	flags := C.int(C.SQLITE_OPEN_READONLY | C.SQLITE_OPEN_URI)
	if writable {
		flags = C.SQLITE_OPEN_READWRITE | C.SQLITE_OPEN_URI
	}
	rc := C.sqlite3_open_v2(curi, &db, flags, nil)
	if rc != sqliteOK {
		err := &sqliteError{Code: int(rc) & 0xff, Msg: C.GoString(C.sqlite3_errstr(rc))}
		if db != nil {
			err.Msg = C.GoString(C.sqlite3_errmsg(db))
			C.sqlite3_close_v2(db)
		}
		return nil, err
	}
	C.sqlite3_extended_result_codes(db, 0)
	if rc := C.strata_set_authorizer(db); rc != sqliteOK {
		C.sqlite3_close_v2(db)
		return nil, fmt.Errorf("install authorizer: %s", C.GoString(C.sqlite3_errstr(rc)))
	}
	return &sqlConn{db: db}, nil
}

func (c *sqlConn) close() {
	if c.db != nil {
		C.sqlite3_close_v2(c.db)
		c.db = nil
	}
}

func (c *sqlConn) err(rc C.int) error {
	return &sqliteError{Code: int(rc) & 0xff, Msg: C.GoString(C.sqlite3_errmsg(c.db))}
}

// value is one result value: its type and SQLite's own text of it
// (sqlite3_column_text: integers in decimal, reals as "%!.15g", blobs as
// their bytes).
type value struct {
	typ  int
	text []byte
}

// resultSet receives the results of one statement: begin with its column
// names (duplicates kept, in order), then each row, then end.
type resultSet interface {
	begin(cols []string) error
	row(vals []value) error
	end() error
}

// errInterrupted is returned when ctx ended a running statement.
var errInterrupted = errors.New("interrupted")

// exec runs every statement of script in order, giving each one's rows to
// out, and stops at the first error. Statements with no result columns
// print nothing. Cancelling ctx interrupts the running statement only: the
// connection stays usable.
func (c *sqlConn) exec(ctx context.Context, script string, out resultSet) error {
	return c.each(ctx, script, func(s statement) error { return s.run(ctx, out) })
}

// statement is one prepared statement of a script, valid during the call
// of each that hands it over.
type statement struct {
	c    *sqlConn
	stmt *C.sqlite3_stmt
}

// run steps the statement to its end, giving its rows to out.
func (s statement) run(ctx context.Context, out resultSet) error { return s.c.run(ctx, s.stmt, out) }

// sql is the statement's text.
func (s statement) sql() string { return C.GoString(C.sqlite3_sql(s.stmt)) }

// readOnly reports whether the statement writes nothing to the database
// (sqlite3_stmt_readonly: BEGIN and COMMIT count as read-only).
func (s statement) readOnly() bool { return C.sqlite3_stmt_readonly(s.stmt) != 0 }

// each prepares the statements of script one after another, where SQLite
// says each ends, and hands each to fn; it stops at the first error.
// Cancelling ctx interrupts the running statement only.
func (c *sqlConn) each(ctx context.Context, script string, fn func(statement) error) error {
	if err := ctx.Err(); err != nil {
		return err
	}
	stop := c.interruptOn(ctx)
	defer stop()
	csql := C.CString(script)
	defer C.free(unsafe.Pointer(csql))
	off, n := 0, len(script)
	for off < n {
		var stmt *C.sqlite3_stmt
		var tail C.int
		rc := C.strata_prepare(c.db, (*C.char)(unsafe.Add(unsafe.Pointer(csql), off)), C.int(n-off), &stmt, &tail)
		if rc != sqliteOK {
			return c.stmtErr(ctx, rc)
		}
		off += int(tail)
		if stmt == nil { // only whitespace or a comment
			continue
		}
		err := fn(statement{c, stmt})
		C.sqlite3_finalize(stmt)
		if err != nil {
			return err
		}
	}
	return nil
}

// changes is the number of rows the last INSERT, UPDATE or DELETE changed.
func (c *sqlConn) changes() int64 { return int64(C.sqlite3_changes64(c.db)) }

// totalChanges is the number of rows changed since the connection opened.
func (c *sqlConn) totalChanges() int64 { return int64(C.sqlite3_total_changes64(c.db)) }

// inTransaction reports whether a transaction is open (not autocommit).
func (c *sqlConn) inTransaction() bool { return C.sqlite3_get_autocommit(c.db) == 0 }

// run steps one prepared statement to its end.
func (c *sqlConn) run(ctx context.Context, stmt *C.sqlite3_stmt, out resultSet) error {
	ncol := int(C.sqlite3_column_count(stmt))
	var cols []string
	for i := range ncol {
		cols = append(cols, C.GoString(C.sqlite3_column_name(stmt, C.int(i))))
	}
	begun := false
	vals := make([]value, ncol)
	for {
		rc := C.sqlite3_step(stmt)
		if rc == sqliteDone {
			break
		}
		if rc != sqliteRow {
			return c.stmtErr(ctx, rc)
		}
		if ncol == 0 {
			continue
		}
		if !begun {
			if err := out.begin(cols); err != nil {
				return err
			}
			begun = true
		}
		for i := range vals {
			ci := C.int(i)
			typ := int(C.sqlite3_column_type(stmt, ci))
			vals[i].typ = typ
			vals[i].text = vals[i].text[:0]
			switch typ {
			case typeNull:
			case typeBlob:
				if p := C.sqlite3_column_blob(stmt, ci); p != nil {
					vals[i].text = append(vals[i].text, unsafe.Slice((*byte)(p), int(C.sqlite3_column_bytes(stmt, ci)))...)
				}
			default:
				if p := C.sqlite3_column_text(stmt, ci); p != nil {
					vals[i].text = append(vals[i].text, unsafe.Slice((*byte)(unsafe.Pointer(p)), int(C.sqlite3_column_bytes(stmt, ci)))...)
				}
			}
		}
		if err := out.row(vals); err != nil {
			return err
		}
	}
	if !begun { // no rows: nothing is printed, as in sqlite3
		return nil
	}
	return out.end()
}

// stmtErr is the error of a failed prepare or step: "interrupted" when
// ctx ended it.
func (c *sqlConn) stmtErr(ctx context.Context, rc C.int) error {
	if int(rc)&0xff == sqliteInterrupt && ctx.Err() != nil {
		return fmt.Errorf("%w: %w", errInterrupted, context.Cause(ctx))
	}
	return c.err(rc)
}

// interruptOn interrupts the running statement when ctx ends; stop ends
// the watch (and waits for it, so that no interrupt outlives the call).
func (c *sqlConn) interruptOn(ctx context.Context) (stop func()) {
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		select {
		case <-ctx.Done():
			C.sqlite3_interrupt(c.db)
		case <-done:
		}
	})
	return func() { close(done); wg.Wait() }
}

// complete reports whether sql ends with a complete statement (sqlite3_complete:
// a ';' outside strings, comments and trigger bodies).
func complete(sql string) bool {
	if strings.TrimSpace(sql) == "" {
		return false
	}
	cs := C.CString(sql)
	defer C.free(unsafe.Pointer(cs))
	return C.sqlite3_complete(cs) != 0
}
