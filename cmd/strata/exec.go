package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"strings"
	"unicode"

	"github.com/strata-db/strata/vfs"
)

// runExec runs writing SQL on a replica: every statement in one
// transaction unless the SQL has its own BEGIN ... COMMIT, then says what
// each statement changed and which TXID holds the result.
func runExec(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("exec", "exec [-sync commit|DURATION] [-buffer DIR] URL SQL...", stderr)
	syncMode := fs.String("sync", "", "when COMMIT returns: `commit` (after its LTX file is stored) or a duration such as 1s (group commit: after it is fsynced to the local write buffer; the command stores everything before it exits) (default $STRATA_SYNC or commit)")
	buffer := fs.String("buffer", "", "`directory` of the local write buffer (default $STRATA_BUFFER_DIR or ~/.local/state/strata)")
	pos, err := parseArgsAtLeast(fs, args, 2)
	if err != nil {
		return err
	}
	if *syncMode != "" {
		if _, err := vfs.ParseSync(*syncMode); err != nil {
			return fmt.Errorf("%w: -sync: %v", errUsage, err)
		}
	}
	conn, err := openConn(ctx, pos[0], connOptions{write: true, sync: *syncMode, buffer: *buffer})
	if err != nil {
		return err
	}
	defer conn.close()
	x := &execution{conn: conn, out: newPrinter(stdout, modeList, false), stdout: stdout}
	if x.startTXID, err = conn.pragma(ctx, "strata_txid"); err != nil {
		return err
	}
	// Each argument is one or more whole statements; a newline ends a
	// trailing comment before the separator.
	err = x.run(ctx, strings.Join(pos[1:], "\n;\n"))
	if ferr := x.out.flush(); err == nil {
		err = ferr
	}
	if err != nil {
		return err
	}
	return x.report(ctx)
}

// parseArgsAtLeast is parseArgs for commands taking min or more
// positional arguments.
func parseArgsAtLeast(fs *flag.FlagSet, args []string, min int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) < min {
		fs.Usage()
		return nil, fmt.Errorf("%w: expected at least %d arguments, got %d", errUsage, min, len(pos))
	}
	return pos, nil
}

// execution is one run of exec's SQL.
type execution struct {
	conn      *replicaConn
	out       *printer // rows of statements that return some (RETURNING, SELECT)
	stdout    io.Writer
	startTXID string
	implicit  bool // exec opened the transaction the statements run in
	wrote     bool // a statement that writes ran
}

// run runs the script. Statements outside the script's own transactions
// run in one transaction that exec begins (a deferred BEGIN: IMMEDIATE
// would ask an attached read-only replica for its write lock too) and
// commits at the end, or just
// before a statement that runs outside it (runsOutside: the script's own
// BEGIN, a PRAGMA, ATTACH, VACUUM). Any failure rolls back what is not
// committed.
func (x *execution) run(ctx context.Context, script string) error {
	c := x.conn
	before := c.lastError()
	err := c.each(ctx, script, func(s statement) error {
		text := s.sql()
		control := runsOutside(text)
		if control && x.implicit {
			if err := x.commit(ctx); err != nil {
				return err
			}
		}
		if !control && !c.inTransaction() {
			if err := c.sqlConn.exec(ctx, "BEGIN", discard{}); err != nil {
				return err
			}
			x.implicit = true
		}
		total := c.totalChanges()
		if err := s.run(ctx, x.out); err != nil {
			return err
		}
		if err := x.out.flush(); err != nil {
			return err
		}
		if !s.readOnly() && !transactionControl(text) {
			x.wrote = true
			x.changed(text, c.totalChanges() != total)
		}
		return nil
	})
	if err == nil && x.implicit {
		err = x.commit(ctx)
	}
	if err == nil && c.inTransaction() {
		err = errors.New("the SQL began a transaction it did not end (BEGIN without COMMIT); it was rolled back")
	}
	if err != nil {
		if c.inTransaction() {
			_ = c.sqlConn.exec(context.WithoutCancel(ctx), "ROLLBACK", discard{})
		}
		return x.explain(err, before)
	}
	return nil
}

// commit commits the transaction exec began.
func (x *execution) commit(ctx context.Context) error {
	x.implicit = false
	return x.conn.sqlConn.exec(ctx, "COMMIT", discard{})
}

// changed prints what a writing statement did: the rows an INSERT,
// UPDATE or DELETE changed (sqlite3_changes), "done" for the others.
func (x *execution) changed(sql string, counted bool) {
	what := "done"
	switch firstKeyword(sql) {
	case "INSERT", "UPDATE", "DELETE", "REPLACE", "WITH":
		n := int64(0)
		if counted {
			n = x.conn.changes()
		}
		what = fmt.Sprintf("%d row%s changed", n, plural(n))
	}
	fmt.Fprintf(x.stdout, "%s: %s\n", what, summarize(sql))
}

// report stores what group commit holds (PRAGMA strata_sync) and prints
// the TXID the replica ends at.
func (x *execution) report(ctx context.Context) error {
	before := x.conn.lastError()
	txid, err := x.conn.pragma(ctx, "strata_sync")
	if err != nil {
		return x.explain(fmt.Errorf("store the commits: %w", err), before)
	}
	switch {
	case txid != x.startTXID:
		fmt.Fprintf(x.stdout, "stored TXID %s\n", txid)
	case x.wrote:
		fmt.Fprintf(x.stdout, "nothing changed: the replica stays at TXID %s\n", txid)
	}
	return nil
}

// explain names a write conflict as such: SQLITE_BUSY at COMMIT means
// another writer stored the TXID first, and nothing of this run's open
// transaction was stored.
func (x *execution) explain(err error, before string) error {
	err = x.conn.explain(err, before)
	var se *sqliteError
	if errors.As(err, &se) && se.Code == sqliteBusy {
		return fmt.Errorf("write conflict (SQLITE_BUSY): the uncommitted statements were rolled back; run the command again: %w", err)
	}
	return err
}

// pragma runs PRAGMA name and returns its one value.
func (c *replicaConn) pragma(ctx context.Context, name string) (string, error) {
	var v collect
	if err := c.sqlConn.exec(ctx, "PRAGMA "+name, &v); err != nil {
		return "", fmt.Errorf("PRAGMA %s: %w", name, err)
	}
	if len(v.vals) != 1 {
		return "", fmt.Errorf("PRAGMA %s returned %d rows", name, len(v.vals))
	}
	return v.vals[0], nil
}

// runsOutside reports whether sql runs outside the transaction exec
// begins: it begins, ends or marks a transaction (BEGIN, COMMIT, END,
// ROLLBACK, SAVEPOINT, RELEASE), SQLite refuses it inside one (ATTACH,
// DETACH, VACUUM), or it is a PRAGMA (many are no-ops inside one:
// foreign_keys; page_size and auto_vacuum must come before the first
// write).
func runsOutside(sql string) bool {
	switch firstKeyword(sql) {
	case "ATTACH", "DETACH", "VACUUM", "PRAGMA":
		return true
	}
	return transactionControl(sql)
}

// transactionControl reports whether sql begins, ends or marks a
// transaction.
func transactionControl(sql string) bool {
	switch firstKeyword(sql) {
	case "BEGIN", "COMMIT", "END", "ROLLBACK", "SAVEPOINT", "RELEASE":
		return true
	}
	return false
}

// firstKeyword is the first word of sql in upper case.
func firstKeyword(sql string) string {
	s := trimLead(sql)
	end := strings.IndexFunc(s, func(r rune) bool { return !unicode.IsLetter(r) })
	if end < 0 {
		end = len(s)
	}
	return strings.ToUpper(s[:end])
}

// trimLead drops what comes before a statement's first word: blanks,
// comments, and the semicolons of empty statements (SQLite gives a
// statement's text from the end of the previous one).
func trimLead(sql string) string {
	s := sql
	for {
		s = strings.TrimLeftFunc(s, func(r rune) bool { return unicode.IsSpace(r) || r == ';' })
		switch {
		case strings.HasPrefix(s, "--"):
			i := strings.IndexByte(s, '\n')
			if i < 0 {
				return ""
			}
			s = s[i+1:]
		case strings.HasPrefix(s, "/*"):
			i := strings.Index(s[2:], "*/")
			if i < 0 {
				return ""
			}
			s = s[i+4:]
		default:
			return s
		}
	}
}

// summarize shortens a statement to one line for the report.
func summarize(sql string) string {
	s := strings.Join(strings.Fields(strings.TrimRight(trimLead(sql), "; \t\r\n")), " ")
	if r := []rune(s); len(r) > 60 {
		s = string(r[:57]) + "..."
	}
	return s
}

func plural(n int64) string {
	if n == 1 {
		return ""
	}
	return "s"
}
