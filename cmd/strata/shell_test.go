package main

import (
	"bytes"
	"context"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
)

// shellRun runs `strata shell args...` in-process with input piped in.
func shellRun(t testing.TB, input string, args ...string) result {
	t.Helper()
	old := stdin
	stdin = strings.NewReader(input)
	defer func() { stdin = old }()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), append([]string{"shell"}, args...), &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// With input from a pipe the shell prints results only (no banner, no
// prompt), runs statements that span lines, and the dot commands work.
func TestShellPiped(t *testing.T) {
	rep, _ := typedReplica(t)
	r := shellRun(t, `select count(*)
  from ev;
.tables
.schema ev
.headers on
select 1 as a, 2 as b;
.mode csv
select 'x,y' as s;
.mode json
select 1 as a, 1 as a;
.mode
.headers off
.mode list
select 'after';
.quit
select 'never';
`, rep)
	r.want(t, 0)
	want := `5
ev  v
CREATE TABLE ev(id integer primary key, at datetime, ok boolean, note text, amount real, raw blob);
CREATE INDEX ev_at on ev(at);
a|b
1|2
s
"x,y"
[{"a":1,"a":1}]
current output mode: json
after
`
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if r.stderr != "" {
		t.Errorf("stderr: %s", r.stderr)
	}
}

// A failing statement or command is reported and the shell goes on; a
// script with failures exits 1, like sqlite3 reading a pipe.
func TestShellErrorsContinue(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	r := shellRun(t, "select nope;\n.frobnicate\n.mode nonsense\nselect 'still here';\n.timer on\nselect 1;\n", rep)
	r.want(t, 1, "Error: no such column: nope", `unknown command ".frobnicate"`, ".mode nonsense", "3 statement(s)")
	if !strings.HasPrefix(r.stdout, "still here\n1\nRun Time: real ") {
		t.Errorf("stdout %q", r.stdout)
	}
	// An incomplete statement at the end of the input is run (and fails).
	r = shellRun(t, "select 1;\nselect (2", rep)
	r.want(t, 1, "incomplete input")
	if r.stdout != "1\n" {
		t.Errorf("stdout %q", r.stdout)
	}
	// Shell flags choose the first mode.
	r = shellRun(t, "select 1 as n;\n", "-csv", "-header", rep)
	r.want(t, 0)
	if r.stdout != "n\n1\n" {
		t.Errorf("shell -csv -header: %q", r.stdout)
	}
}
