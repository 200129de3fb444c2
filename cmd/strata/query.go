package main

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"strconv"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/vfs"
)

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", "query [-txid N | -timestamp T] [-json] URL SQL", stderr)
	var tf targetFlags
	tf.register(fs, "query")
	asJSON := fs.Bool("json", false, "print rows as a JSON array of objects")
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	target, err := tf.target()
	if err != nil {
		return err
	}
	conn, err := openConn(ctx, pos[0], target)
	if err != nil {
		return err
	}
	defer conn.close()
	return conn.query(ctx, pos[1], *asJSON, stdout)
}

// replicaConn is one SQLite connection to a replica through the VFS.
type replicaConn struct {
	v    *vfs.VFS
	db   *sql.DB
	conn *sql.Conn
}

// openConn registers the VFS (configured from STRATA_* variables) and opens
// one connection at target, so that pragmas persist across statements.
func openConn(ctx context.Context, replicaURL string, target replica.Target) (*replicaConn, error) {
	cfg, err := vfs.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	v, err := vfs.Register(cfg)
	if err != nil {
		return nil, err
	}
	db, err := sql.Open("sqlite3", vfs.URI(replicaURL, uriParams(target)...))
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err == nil {
		err = conn.PingContext(ctx)
	}
	if err != nil {
		db.Close()
		return nil, explainOpen(v, err)
	}
	return &replicaConn{v: v, db: db, conn: conn}, nil
}

// explainOpen replaces SQLite's "unable to open database file" with the
// reason the VFS recorded.
func explainOpen(v *vfs.VFS, err error) error {
	var se sqlite3.Error
	if asSQLiteError(err, &se) && se.Code == sqlite3.ErrCantOpen {
		if reason := v.LastOpenError(); reason != nil {
			return reason
		}
	}
	return err
}

func asSQLiteError(err error, se *sqlite3.Error) bool {
	e, ok := err.(sqlite3.Error)
	if ok {
		*se = e
	}
	return ok
}

func (c *replicaConn) close() {
	c.conn.Close()
	c.db.Close()
}

// query runs one SQL statement and prints its rows.
func (c *replicaConn) query(ctx context.Context, q string, asJSON bool, w io.Writer) error {
	rows, err := c.conn.QueryContext(ctx, q)
	if err != nil {
		return c.explain(err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	if asJSON {
		err = printJSON(rows, cols, w)
	} else {
		err = printList(rows, cols, w)
	}
	return c.explain(err)
}

// explain adds the VFS's reason to SQLite's bare "disk I/O error".
func (c *replicaConn) explain(err error) error {
	var se sqlite3.Error
	if asSQLiteError(err, &se) && se.Code == sqlite3.ErrIoErr {
		if reason := c.v.LastError(); reason != nil {
			return fmt.Errorf("%w: %v", err, reason)
		}
	}
	return err
}

// scanRow reads one row as raw values.
func scanRow(rows *sql.Rows, n int) ([]any, error) {
	vals := make([]any, n)
	ptrs := make([]any, n)
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	return vals, rows.Scan(ptrs...)
}

// printList prints rows like the sqlite3 shell's list mode.
func printList(rows *sql.Rows, cols []string, w io.Writer) error {
	for rows.Next() {
		vals, err := scanRow(rows, len(cols))
		if err != nil {
			return err
		}
		for i, v := range vals {
			if i > 0 {
				io.WriteString(w, "|")
			}
			io.WriteString(w, formatValue(v))
		}
		io.WriteString(w, "\n")
	}
	return rows.Err()
}

func formatValue(v any) string {
	switch x := v.(type) {
	case nil:
		return ""
	case []byte:
		return string(x)
	case string:
		return x
	case int64:
		return strconv.FormatInt(x, 10)
	case float64:
		s := strconv.FormatFloat(x, 'g', 15, 64)
		if x == float64(int64(x)) && len(s) < 16 {
			s = strconv.FormatFloat(x, 'f', 1, 64)
		}
		return s
	case time.Time:
		return x.Format(time.RFC3339Nano)
	default:
		return fmt.Sprint(x)
	}
}

// printJSON prints rows as a JSON array of objects, like sqlite3 -json.
func printJSON(rows *sql.Rows, cols []string, w io.Writer) error {
	out := []map[string]any{}
	for rows.Next() {
		vals, err := scanRow(rows, len(cols))
		if err != nil {
			return err
		}
		obj := make(map[string]any, len(cols))
		for i, c := range cols {
			if b, ok := vals[i].([]byte); ok {
				vals[i] = string(b)
			}
			obj[c] = vals[i]
		}
		out = append(out, obj)
	}
	if err := rows.Err(); err != nil {
		return err
	}
	return json.NewEncoder(w).Encode(out)
}
