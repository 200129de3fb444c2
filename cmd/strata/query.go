package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"strings"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/vfs"
)

func runQuery(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("query", "query [-txid N | -timestamp T] [-wait D] [-hydrate FILE] [-json | -csv | -table | -box | -line | -list] [-header] URL SQL", stderr)
	var tf targetFlags
	tf.register(fs, "query")
	var of outputFlags
	of.register(fs)
	wait := fs.Duration("wait", 0, "if the replica has no LTX files yet, wait up to this `duration` for the first one")
	hydrate := fs.String("hydrate", "", "keep a local copy of the replica in this `file`, restored in the background and resumed or caught up by the next run; reads use it once complete")
	pos, err := parseArgs(fs, args, 2)
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
	conn, err := openConn(ctx, pos[0], connOptions{target: target, wait: *wait, hydrate: *hydrate})
	if err != nil {
		return err
	}
	defer conn.close()
	p := newPrinter(stdout, mode, of.header)
	err = conn.exec(ctx, pos[1], p)
	if ferr := p.flush(); err == nil {
		err = ferr
	}
	return err
}

// outputFlags choose how query and shell print results.
type outputFlags struct {
	set    []string // mode flags given, in order
	header bool
}

type modeFlag struct {
	of   *outputFlags
	name string
}

func (m modeFlag) String() string   { return "" }
func (m modeFlag) IsBoolFlag() bool { return true }
func (m modeFlag) Set(v string) error {
	if v == "true" {
		m.of.set = append(m.of.set, m.name)
	}
	return nil
}

func (o *outputFlags) register(fs *flag.FlagSet) {
	help := map[string]string{
		modeList:  "print rows as columns joined by '|' (the default)",
		modeCSV:   "print rows as CSV",
		modeJSON:  "print each result as a JSON array of objects (column order and duplicate names kept)",
		modeLine:  "print one 'column = value' line per value",
		modeTable: "print an ASCII table (holds each result in memory to size the columns)",
		modeBox:   "print a table drawn with box characters (holds each result in memory)",
	}
	for _, m := range modes {
		fs.Var(modeFlag{o, m}, m, help[m])
	}
	fs.BoolVar(&o.header, "header", false, "list and csv: print the column names first")
}

func (o *outputFlags) mode() (string, error) {
	switch len(o.set) {
	case 0:
		return modeList, nil
	case 1:
		return o.set[0], nil
	}
	return "", fmt.Errorf("%w: choose one output mode, not -%s", errUsage, strings.Join(o.set, " and -"))
}

// replicaConn is one SQLite connection to a replica through the VFS.
type replicaConn struct {
	*sqlConn
	v        *vfs.VFS
	log      *slog.Logger
	writable bool // opened with write=1
}

// connOptions say how openConn opens a replica.
type connOptions struct {
	target replica.Target // the state to open (latest if zero)
	wait   time.Duration  // how long to wait for a first LTX file
	// write opens the replica writable (write=1), with the durability
	// mode sync ("commit" or a duration; "" for STRATA_SYNC or commit) and
	// the write buffer in buffer ("" for the default).
	write        bool
	sync, buffer string
	// hydrate keeps a local copy of the replica in this file ("": none).
	hydrate string
}

// params are the URI parameters of o.
func (o connOptions) params() []string {
	params := uriParams(o.target)
	if o.wait > 0 {
		params = append(params, "wait", o.wait.String())
	}
	if o.write {
		params = append(params, "write", "1")
		if o.sync != "" {
			params = append(params, "sync", o.sync)
		}
		if o.buffer != "" {
			params = append(params, "buffer", o.buffer)
		}
	}
	if o.hydrate != "" {
		params = append(params, "hydrate", o.hydrate)
	}
	return params
}

// openConn registers the VFS, configured from the STRATA_* variables (its
// logger included), and opens one connection to the replica. A writable
// connection may create the replica: a directory that does not exist yet
// is an empty replica.
func openConn(ctx context.Context, replicaURL string, opts connOptions) (*replicaConn, error) {
	target, wait := opts.target, opts.wait
	if err := checkReplicaArg(replicaURL, !opts.write); err != nil {
		return nil, err
	}
	cfg, err := vfs.ConfigFromEnv()
	if err != nil {
		return nil, err
	}
	log := cfg.Logger
	if log == nil {
		log = slog.New(slog.DiscardHandler)
	}
	v, err := vfs.Register(cfg)
	if err != nil {
		return nil, err
	}
	params := opts.params()
	start := time.Now()
	log.Debug("opening replica", "replica", redactURL(replicaURL), "target", target.String(), "wait", wait)

	// SQLite's open cannot be cancelled; an interrupted command returns
	// at once and the process exits.
	type opened struct {
		c   *sqlConn
		err error
	}
	ch := make(chan opened, 1)
	go func() {
		c, err := openSQL(vfs.URI(replicaURL, params...), opts.write)
		ch <- opened{c, err}
	}()
	var o opened
	select {
	case o = <-ch:
	case <-ctx.Done():
		go func() {
			if o := <-ch; o.c != nil {
				o.c.close()
			}
		}()
		return nil, fmt.Errorf("open %s: %w", redactURL(replicaURL), context.Cause(ctx))
	}
	if o.err == nil {
		// SQLite opens lazily: reading the schema is what reaches the replica.
		o.err = o.c.exec(ctx, "select 1 from sqlite_schema limit 1", discard{})
		if o.err != nil {
			o.c.close()
		}
	}
	if o.err != nil {
		return nil, explainOpen(v, replicaURL, wait, o.err)
	}
	c := &replicaConn{sqlConn: o.c, v: v, log: log, writable: opts.write}
	log.Info("opened replica", "replica", redactURL(replicaURL), "target", target.String(), "took", time.Since(start).Round(time.Millisecond))
	return c, nil
}

// discard is a resultSet that prints nothing.
type discard struct{}

func (discard) begin([]string) error { return nil }
func (discard) row([]value) error    { return nil }
func (discard) end() error           { return nil }

// explainOpen replaces SQLite's "unable to open database file" with the
// reason the VFS recorded, and says what to do about an empty replica.
func explainOpen(v *vfs.VFS, replicaURL string, wait time.Duration, err error) error {
	var se *sqliteError
	if !errors.As(err, &se) || (se.Code != sqliteCantOpen && se.Code != sqliteIOErr) {
		return err
	}
	reason := v.LastOpenError()
	if reason == nil {
		reason = v.LastError()
	}
	switch {
	case reason == nil:
		return err
	case errors.Is(reason, replica.ErrEmpty) && wait > 0:
		return fmt.Errorf("replica %s is empty: no LTX file appeared within -wait %s: %w", redactURL(replicaURL), wait, replica.ErrEmpty)
	case errors.Is(reason, replica.ErrEmpty):
		return fmt.Errorf("replica %s exists but is empty (no LTX files yet); add -wait 1m to wait for its first transaction: %w", redactURL(replicaURL), replica.ErrEmpty)
	}
	return reason
}

// exec runs a script and adds the VFS's reason to SQLite's bare "disk I/O
// error", "database is locked" (a write conflict), "attempt to write a
// readonly database" and "database or disk is full".
func (c *replicaConn) exec(ctx context.Context, script string, out resultSet) error {
	start := time.Now()
	before := c.lastError()
	err := c.sqlConn.each(ctx, script, func(s statement) error { return s.run(ctx, out) })
	c.log.Debug("ran SQL", "took", time.Since(start).Round(time.Microsecond), "err", err)
	return c.explain(err, before)
}

// lastError is the connection's own last failure as the VFS recorded it
// (PRAGMA strata_last_error), "" if none.
func (c *replicaConn) lastError() string {
	var v collect
	if err := c.sqlConn.exec(context.Background(), "PRAGMA strata_last_error", &v); err != nil || len(v.vals) != 1 {
		return ""
	}
	return v.vals[0]
}

// explain adds to err the reason the VFS recorded for it. before is the
// connection's last error when the statement began: a conflict's reason
// must be new, or it belongs to an earlier failure; the other conditions
// last (a full disk, a replica turned read-only), and an old reason of
// theirs still holds.
func (c *replicaConn) explain(err error, before string) error {
	var se *sqliteError
	if !errors.As(err, &se) {
		return err
	}
	reason := c.lastError()
	switch se.Code {
	case sqliteIOErr, sqliteFull:
		if reason != "" {
			return fmt.Errorf("%w: %s", err, reason)
		}
	case sqliteBusy:
		if reason != "" && reason != before {
			return fmt.Errorf("%w: %s", err, reason)
		}
		if c.writable {
			return fmt.Errorf("%w: another writer holds the replica, or it moved since the transaction began; nothing was stored: retry", err)
		}
	case sqliteReadOnly:
		switch {
		case reason != "" && c.writable:
			return fmt.Errorf("%w: %s", err, reason)
		case !c.writable:
			return fmt.Errorf("%w: this command reads only; write with `strata exec URL SQL` or `strata shell -write URL`", err)
		}
	case sqliteAuth:
		return fmt.Errorf("%w: %w", err, errWritesRefused)
	}
	return err
}
