// Command writeload is the workload of the write path's process tests
// (integration/write_*_test.go): each run is one real process that opens a
// replica through the strata VFS and writes or reads it, reporting on
// stdout, one line per event, what a test needs to check the outcome
// against the replica. Lines are written unbuffered, so that a process
// killed with SIGKILL has reported everything it acknowledged.
//
//	writeload bank-write  -url U [flags]   transfer money between accounts until stdin closes
//	writeload bank-read   -url U -total N  check the total until stdin closes
//	writeload race        -url U -writer K -attempts N   insert N rows, one commit each
//	writeload crash       -url U -start S  insert rows one commit each until killed
//
// -max-file-size N limits the size of every file the process writes, so
// that its write buffer finds the disk full.
// Flags common to all: -buffer DIR, -sync commit|DURATION, -poll DURATION.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"syscall"
	"time"

	"github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/vfs"
)

func main() {
	if len(os.Args) < 2 {
		fmt.Fprintln(os.Stderr, "usage: writeload bank-write|bank-read|race|crash -url URL [flags]")
		os.Exit(2)
	}
	if err := run(os.Args[1], os.Args[2:]); err != nil {
		fmt.Fprintln(os.Stderr, "writeload:", err)
		os.Exit(1)
	}
}

// options are the flags of every mode.
type options struct {
	url, buffer, sync string
	poll              time.Duration
	// mode specific
	accounts, writer, attempts int
	total, start               int64
	pad, rate, big             int
	maxFileSize                int64
}

func run(mode string, args []string) error {
	var o options
	fs := flag.NewFlagSet(mode, flag.ContinueOnError)
	fs.StringVar(&o.url, "url", "", "replica URL")
	fs.StringVar(&o.buffer, "buffer", "", "write buffer directory")
	fs.StringVar(&o.sync, "sync", "commit", "durability: commit or a duration")
	fs.DurationVar(&o.poll, "poll", 100*time.Millisecond, "poll interval")
	fs.IntVar(&o.accounts, "accounts", 100, "bank: accounts")
	fs.Int64Var(&o.total, "total", 0, "bank-read: the total every check must see")
	fs.IntVar(&o.writer, "writer", 1, "race: this writer's number")
	fs.IntVar(&o.attempts, "attempts", 500, "race: commits to attempt")
	fs.Int64Var(&o.start, "start", 0, "crash: the first row id")
	fs.IntVar(&o.pad, "pad", 100, "crash: bytes of padding per row")
	fs.IntVar(&o.rate, "rate", 0, "bank-read: checks per second at most (0: no limit)")
	fs.IntVar(&o.big, "big", 30000, "crash: bytes of the row every tenth commit adds")
	fs.Int64Var(&o.maxFileSize, "max-file-size", 0, "limit on the size of any file the process writes (RLIMIT_FSIZE), to play a full disk")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if o.url == "" {
		return errors.New("-url is required")
	}
	if o.maxFileSize > 0 {
		// Writes past the limit then fail with EFBIG (Go ignores SIGXFSZ).
		lim := syscall.Rlimit{Cur: uint64(o.maxFileSize), Max: uint64(o.maxFileSize)}
		if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &lim); err != nil {
			return fmt.Errorf("limit file sizes: %w", err)
		}
	}
	ctx := context.Background()
	switch mode {
	case "bank-write":
		return bankWrite(ctx, o)
	case "bank-read":
		return bankRead(ctx, o)
	case "race":
		return race(ctx, o)
	case "crash":
		return crash(ctx, o)
	}
	return fmt.Errorf("unknown mode %q", mode)
}

// open registers the VFS (configured from STRATA_* like the extension, with
// the -poll interval) and returns one connection to the replica, writable
// unless readOnly.
func open(ctx context.Context, o options, readOnly bool) (*sql.DB, *sql.Conn, error) {
	cfg, err := vfs.ConfigFromEnv()
	if err != nil {
		return nil, nil, err
	}
	cfg.PollInterval = o.poll
	if _, err := vfs.Register(cfg); err != nil {
		return nil, nil, err
	}
	params := []string{"_busy_timeout", "0"}
	if !readOnly {
		params = append(params, "write", "1", "sync", o.sync)
		if o.buffer != "" {
			params = append(params, "buffer", o.buffer)
		}
	}
	db, err := sql.Open("sqlite3", vfs.URI(o.url, params...))
	if err != nil {
		return nil, nil, err
	}
	db.SetMaxOpenConns(1)
	conn, err := db.Conn(ctx)
	if err != nil {
		db.Close()
		return nil, nil, err
	}
	return db, conn, nil
}

// tx runs stmts in one BEGIN IMMEDIATE ... COMMIT transaction on conn. A
// failure rolls back what is left of it.
func tx(ctx context.Context, conn *sql.Conn, stmts ...string) error {
	if _, err := conn.ExecContext(ctx, "BEGIN IMMEDIATE"); err != nil {
		return err
	}
	for _, s := range append(stmts, "COMMIT") {
		if _, err := conn.ExecContext(ctx, s); err != nil {
			_, _ = conn.ExecContext(ctx, "ROLLBACK")
			return err
		}
	}
	return nil
}

// isBusy reports whether err is SQLITE_BUSY (a conflict, or the replica
// moved since the transaction began): the application retries.
func isBusy(err error) bool {
	var se sqlite3.Error
	return errors.As(err, &se) && se.Code == sqlite3.ErrBusy
}

// code is SQLite's extended result code of err, or -1.
func code(err error) int {
	var se sqlite3.Error
	if errors.As(err, &se) {
		return int(se.ExtendedCode)
	}
	return -1
}

// say writes one line to stdout at once (os.Stdout is unbuffered).
func say(format string, args ...any) {
	fmt.Fprintf(os.Stdout, format+"\n", args...)
}

// untilStdinCloses returns a context that ends when stdin reaches EOF: the
// test's way of saying "stop".
func untilStdinCloses(ctx context.Context) context.Context {
	ctx, cancel := context.WithCancel(ctx)
	go func() {
		_, _ = io.Copy(io.Discard, os.Stdin)
		cancel()
	}()
	return ctx
}

// lastError is the connection's PRAGMA strata_last_error, for reports.
func lastError(ctx context.Context, conn *sql.Conn) string {
	var s sql.NullString
	_ = conn.QueryRowContext(ctx, "PRAGMA strata_last_error").Scan(&s)
	return s.String
}
