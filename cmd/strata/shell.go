package main

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/chzyer/readline"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/vfs"
)

func runShell(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("shell", "shell [-write [-sync commit|DURATION] [-buffer DIR]] [-txid N | -timestamp T] [-wait D] [-hydrate FILE] [-json | -csv | -table | -box | -line | -list] [-header] URL", stderr)
	var tf targetFlags
	tf.register(fs, "start at")
	var of outputFlags
	of.register(fs)
	wait := fs.Duration("wait", 0, "if the replica has no LTX files yet, wait up to this `duration` for the first one")
	write := fs.Bool("write", false, "open the replica writable: each statement commits as in sqlite3 (or BEGIN ... COMMIT), and each commit is stored as the next TXID")
	syncMode := fs.String("sync", "", "with -write, when COMMIT returns: `commit` (after its LTX file is stored) or a duration such as 1s (group commit) (default $STRATA_SYNC or commit)")
	buffer := fs.String("buffer", "", "with -write, `directory` of the local write buffer (default $STRATA_BUFFER_DIR or ~/.local/state/strata)")
	hydrate := fs.String("hydrate", "", "keep a local copy of the replica in this `file`, restored in the background and resumed or caught up by the next run; reads use it once complete")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	target, err := tf.target()
	if err != nil {
		return err
	}
	mode, err := of.mode()
	if err != nil {
		return err
	}
	if err := checkWriteFlags(*write, *syncMode, *buffer, target); err != nil {
		return err
	}
	conn, err := openConn(ctx, pos[0], connOptions{target: target, wait: *wait, write: *write, sync: *syncMode, buffer: *buffer, hydrate: *hydrate})
	if err != nil {
		return err
	}
	defer conn.close()
	in, err := newLineReader(ctx, stdin, stdout, stderr)
	if err != nil {
		return err
	}
	defer in.close()
	sh := &shell{conn: conn, in: in, out: newPrinter(stdout, mode, of.header), stdout: stdout, stderr: stderr}
	err = sh.run(ctx)
	if *write {
		// Group commit: what the buffer holds is stored before the shell
		// ends, and a failure to store it is said.
		if _, serr := conn.pragma(context.WithoutCancel(ctx), "strata_sync"); serr != nil {
			err = errors.Join(err, fmt.Errorf("store the commits: %w", serr))
		}
	}
	return err
}

// checkWriteFlags rejects -sync and -buffer without -write, and writing
// at a past state.
func checkWriteFlags(write bool, syncMode, buffer string, target replica.Target) error {
	switch {
	case !write && (syncMode != "" || buffer != ""):
		return fmt.Errorf("%w: -sync and -buffer need -write", errUsage)
	case write && !target.IsLatest():
		return fmt.Errorf("%w: -write writes at the latest state, not at -txid or -timestamp", errUsage)
	case syncMode != "":
		if _, err := vfs.ParseSync(syncMode); err != nil {
			return fmt.Errorf("%w: -sync: %v", errUsage, err)
		}
	}
	return nil
}

// shell is the state of one `strata shell` session.
type shell struct {
	conn           *replicaConn
	in             lineReader
	out            *printer
	stdout, stderr io.Writer
	timer          bool
	failed         int // statements that failed (non-interactive: exit 1)
}

// lineReader reads the shell's input: with line editing and history on a
// terminal, plainly from a pipe or a file.
type lineReader interface {
	// readLine returns the next line; io.EOF at the end. continued says
	// a statement is being continued (another prompt).
	readLine(continued bool) (string, error)
	interactive() bool
	close()
}

const (
	prompt     = "strata> "
	contPrompt = "   ...> "
)

var errLineInterrupted = errors.New("line interrupted")

func (sh *shell) run(ctx context.Context) error {
	if sh.in.interactive() {
		fmt.Fprintln(sh.stderr, `strata shell: SQL ends with ';'. ".help" lists the commands; PRAGMA strata_time = '5 minutes ago'; travels in time.`)
		if sh.conn.writable {
			fmt.Fprintln(sh.stderr, `Writable: each statement (or BEGIN ... COMMIT) is stored as the next TXID when it commits.`)
		}
	}
	var stmt strings.Builder
	for {
		line, err := sh.in.readLine(stmt.Len() > 0)
		if errors.Is(err, errLineInterrupted) { // Ctrl-C at the prompt drops the line
			stmt.Reset()
			continue
		}
		if errors.Is(err, io.EOF) {
			break
		}
		if err != nil {
			return err
		}
		if stmt.Len() == 0 && strings.HasPrefix(strings.TrimSpace(line), ".") {
			quit, err := sh.dot(ctx, strings.TrimSpace(line))
			if err != nil {
				sh.fail(err)
			}
			if quit {
				return sh.result()
			}
			continue
		}
		stmt.WriteString(line)
		stmt.WriteByte('\n')
		if complete(stmt.String()) {
			sh.exec(ctx, stmt.String())
			stmt.Reset()
		}
	}
	if strings.TrimSpace(stmt.String()) != "" {
		sh.exec(ctx, stmt.String()) // SQLite says what is incomplete
	}
	if sh.in.interactive() {
		fmt.Fprintln(sh.stderr)
	}
	return sh.result()
}

// result is the shell's exit: failed statements of a script make it 1,
// like sqlite3 reading a pipe.
func (sh *shell) result() error {
	if sh.failed > 0 && !sh.in.interactive() {
		return fmt.Errorf("%d statement(s) or command(s) failed", sh.failed)
	}
	return nil
}

func (sh *shell) fail(err error) {
	sh.failed++
	fmt.Fprintf(sh.stderr, "Error: %v\n", err)
}

// exec runs SQL typed at the prompt. Ctrl-C (SIGINT) while it runs
// interrupts this statement only; the connection stays usable.
func (sh *shell) exec(ctx context.Context, sql string) {
	stmtCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	remove := onInterrupt(func() bool {
		cancel(errors.New("Ctrl-C"))
		return true
	})
	start, ru := time.Now(), rusage()
	err := sh.conn.exec(stmtCtx, sql, sh.out)
	remove()
	if ferr := sh.out.flush(); err == nil {
		err = ferr
	}
	if sh.timer {
		ru2 := rusage()
		fmt.Fprintf(sh.stdout, "Run Time: real %.3f user %.6f sys %.6f\n", time.Since(start).Seconds(),
			(ru2.user - ru.user).Seconds(), (ru2.sys - ru.sys).Seconds())
	}
	if err != nil {
		sh.fail(err)
	}
}

type cpuTimes struct{ user, sys time.Duration }

func rusage() cpuTimes {
	var ru syscall.Rusage
	if syscall.Getrusage(syscall.RUSAGE_SELF, &ru) != nil {
		return cpuTimes{}
	}
	return cpuTimes{time.Duration(ru.Utime.Nano()), time.Duration(ru.Stime.Nano())}
}

const shellHelp = `.headers on|off        show column names in list and csv modes
.help                  show this message
.mode [MODE]           show or set the output mode: list, csv, json, line, table, box
.quit                  leave the shell (also .exit, or Ctrl-D)
.schema [PATTERN]      show the CREATE statements (of tables matching a LIKE pattern)
.tables [PATTERN]      list the tables and views (matching a LIKE pattern)
.timer on|off          print how long each statement took
`

// dot runs a dot command; quit says the shell should end.
func (sh *shell) dot(ctx context.Context, line string) (quit bool, err error) {
	f := strings.Fields(line)
	cmd, args := f[0], f[1:]
	onOff := func(name string, set *bool) error {
		if len(args) != 1 {
			return fmt.Errorf("usage: %s on|off", name)
		}
		switch strings.ToLower(args[0]) {
		case "on", "yes", "1", "true":
			*set = true
		case "off", "no", "0", "false":
			*set = false
		default:
			return fmt.Errorf("%s: %q is not on or off", name, args[0])
		}
		return nil
	}
	switch cmd {
	case ".quit", ".exit", ".q":
		return true, nil
	case ".help":
		io.WriteString(sh.stdout, shellHelp)
	case ".headers", ".header":
		return false, onOff(cmd, &sh.out.header)
	case ".timer":
		return false, onOff(cmd, &sh.timer)
	case ".mode":
		switch {
		case len(args) == 0:
			fmt.Fprintf(sh.stdout, "current output mode: %s\n", sh.out.mode)
		case len(args) == 1 && validMode(args[0]):
			sh.out.mode = args[0]
		default:
			return false, fmt.Errorf(".mode %s: want one of %s", strings.Join(args, " "), strings.Join(modes, ", "))
		}
	case ".tables", ".table":
		if len(args) > 1 {
			return false, errors.New("usage: .tables [PATTERN]")
		}
		return false, sh.tables(ctx, args)
	case ".schema":
		if len(args) > 1 {
			return false, errors.New("usage: .schema [PATTERN]")
		}
		return false, sh.schema(ctx, args)
	default:
		return false, fmt.Errorf("unknown command %q; .help lists the commands", cmd)
	}
	return false, nil
}

// collect is a resultSet that keeps the first column of every row.
type collect struct{ vals []string }

func (c *collect) begin([]string) error { return nil }
func (c *collect) row(v []value) error  { c.vals = append(c.vals, string(v[0].text)); return nil }
func (c *collect) end() error           { return nil }

func likeClause(args []string) string {
	if len(args) == 0 {
		return ""
	}
	return " and name like " + sqlQuote(args[0])
}

func sqlQuote(s string) string { return "'" + strings.ReplaceAll(s, "'", "''") + "'" }

// tables lists tables and views like sqlite3's .tables: those of main by
// name, those of attached databases as schema.name, in columns.
func (sh *shell) tables(ctx context.Context, args []string) error {
	var schemas collect
	if err := sh.conn.exec(ctx, "select name from pragma_database_list where name <> 'temp' order by seq", &schemas); err != nil {
		return err
	}
	var names []string
	for _, s := range schemas.vals {
		var c collect
		q := "select name from " + sqlQuoteIdent(s) + ".sqlite_schema where type in ('table', 'view') and name not like 'sqlite_%'" + likeClause(args) + " order by 1"
		if err := sh.conn.exec(ctx, q, &c); err != nil {
			return err
		}
		for _, n := range c.vals {
			if s != "main" {
				n = s + "." + n
			}
			names = append(names, n)
		}
	}
	printColumns(sh.stdout, names)
	return nil
}

func sqlQuoteIdent(s string) string { return `"` + strings.ReplaceAll(s, `"`, `""`) + `"` }

// printColumns prints names in as many columns as fit in 80 characters,
// filled down first, like sqlite3.
func printColumns(w io.Writer, names []string) {
	if len(names) == 0 {
		return
	}
	width := 0
	for _, n := range names {
		width = max(width, displayWidth(n))
	}
	ncol := max(1, 80/(width+2))
	nrow := (len(names) + ncol - 1) / ncol
	bw := bufio.NewWriter(w)
	for r := range nrow {
		for c := 0; c < ncol; c++ {
			i := c*nrow + r
			if i >= len(names) {
				break
			}
			if c > 0 {
				bw.WriteString("  ")
			}
			bw.WriteString(names[i])
			if c < ncol-1 && (c+1)*nrow+r < len(names) {
				bw.WriteString(strings.Repeat(" ", width-displayWidth(names[i])))
			}
		}
		bw.WriteByte('\n')
	}
	bw.Flush()
}

// schema prints the CREATE statements of main, each ending with ';'.
func (sh *shell) schema(ctx context.Context, args []string) error {
	var c collect
	where := ""
	if len(args) == 1 { // a table's indexes and triggers come with it
		where = " and (name like " + sqlQuote(args[0]) + " or tbl_name like " + sqlQuote(args[0]) + ")"
	}
	q := "select sql || ';' from sqlite_schema where sql is not null and name not like 'sqlite_%'" + where + " order by rowid"
	if err := sh.conn.exec(ctx, q, &c); err != nil {
		return err
	}
	for _, s := range c.vals {
		fmt.Fprintln(sh.stdout, s)
	}
	return nil
}

// newLineReader reads from in: a terminal gets line editing and a history
// file (~/.strata_history); anything else is read line by line, with no
// prompt, like sqlite3 does. A read never outlives ctx.
func newLineReader(ctx context.Context, in io.Reader, stdout, stderr io.Writer) (lineReader, error) {
	if f, ok := in.(*os.File); ok && readline.IsTerminal(int(f.Fd())) {
		history := ""
		if home, err := os.UserHomeDir(); err == nil {
			history = filepath.Join(home, ".strata_history")
		}
		rl, err := readline.NewEx(&readline.Config{
			Prompt:          prompt,
			HistoryFile:     history,
			HistoryLimit:    1000,
			InterruptPrompt: "^C",
			Stdin:           f,
			Stdout:          stdout,
			Stderr:          stderr,
		})
		if err != nil {
			return nil, fmt.Errorf("terminal: %w", err)
		}
		t := &termReader{rl: rl, done: make(chan struct{})}
		t.wg.Go(func() {
			select {
			case <-ctx.Done():
				rl.Close()
			case <-t.done:
			}
		})
		return t, nil
	}
	return newPipeReader(ctx, in), nil
}

// termReader is the interactive reader. Its goroutine closes the line
// editor when the command's context ends (SIGTERM), which ends a pending
// read.
type termReader struct {
	rl   *readline.Instance
	done chan struct{}
	wg   sync.WaitGroup
}

func (t *termReader) readLine(continued bool) (string, error) {
	if continued {
		t.rl.SetPrompt(contPrompt)
	} else {
		t.rl.SetPrompt(prompt)
	}
	line, err := t.rl.Readline()
	if errors.Is(err, readline.ErrInterrupt) {
		return "", errLineInterrupted
	}
	return line, err
}

func (t *termReader) interactive() bool { return true }

func (t *termReader) close() {
	close(t.done)
	t.wg.Wait()
	t.rl.Close()
}

// pipeReader reads lines on its own goroutine so that a read blocked on
// a pipe does not keep the command from ending with its context.
type pipeReader struct {
	ctx   context.Context
	lines chan lineOrErr
}

type lineOrErr struct {
	line string
	err  error
}

func newPipeReader(ctx context.Context, in io.Reader) *pipeReader {
	p := &pipeReader{ctx: ctx, lines: make(chan lineOrErr)}
	// The goroutine ends at the end of input; when the command ends
	// first, it is left blocked in Read and ends with the process.
	go func() {
		r := bufio.NewReader(in)
		for {
			line, err := r.ReadString('\n')
			if line != "" {
				select {
				case p.lines <- lineOrErr{line: strings.TrimRight(line, "\r\n")}:
				case <-ctx.Done():
					return
				}
			}
			if err != nil {
				select {
				case p.lines <- lineOrErr{err: err}:
				case <-ctx.Done():
				}
				return
			}
		}
	}()
	return p
}

func (p *pipeReader) readLine(bool) (string, error) {
	select {
	case l := <-p.lines:
		return l.line, l.err
	case <-p.ctx.Done():
		return "", context.Cause(p.ctx)
	}
}

func (p *pipeReader) interactive() bool { return false }
func (p *pipeReader) close()            {}
