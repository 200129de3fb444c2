package main

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"strings"
)

func runShell(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("shell", "shell [-txid N | -timestamp T] URL", stderr)
	var tf targetFlags
	tf.register(fs, "start at")
	pos, err := parseArgs(fs, args, 1)
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
	return conn.repl(ctx, os.Stdin, stdout, stderr)
}

// repl reads statements ending in ';' and prints their rows. Errors are
// printed and the prompt continues.
func (c *replicaConn) repl(ctx context.Context, in io.Reader, stdout, stderr io.Writer) error {
	fmt.Fprintln(stderr, "strata shell: SQL statements end with ';'. PRAGMA strata_time = '5 minutes ago'; travels in time. Ctrl-D quits.")
	sc := bufio.NewScanner(in)
	var stmt strings.Builder
	prompt := func() {
		if stmt.Len() == 0 {
			fmt.Fprint(stderr, "strata> ")
		} else {
			fmt.Fprint(stderr, "   ...> ")
		}
	}
	for prompt(); sc.Scan(); prompt() {
		stmt.WriteString(sc.Text())
		stmt.WriteString("\n")
		q := strings.TrimSpace(stmt.String())
		if !strings.HasSuffix(q, ";") {
			continue
		}
		stmt.Reset()
		if err := c.query(ctx, q, false, stdout); err != nil {
			fmt.Fprintf(stderr, "error: %v\n", err)
		}
	}
	fmt.Fprintln(stderr)
	return sc.Err()
}
