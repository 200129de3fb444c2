package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
)

// sqlite3Out runs the real sqlite3 shell with flags on path.
func sqlite3Out(t testing.TB, path string, args ...string) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 shell is needed (apt-get install sqlite3, or make test-deps)")
	}
	out, err := exec.Command(bin, append(append([]string{}, args[:len(args)-1]...), path, args[len(args)-1])...).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %v: %v\n%s", args, err, out)
	}
	return string(out)
}

// typedReplica is a replica of a database whose values exercise output:
// DATETIME and BOOLEAN columns (which Go drivers like to convert), text
// that needs quoting, wide characters, NULLs, blobs, reals.
func typedReplica(t testing.TB) (rep, local string) {
	t.Helper()
	dir := t.TempDir()
	local = filepath.Join(dir, "typed.db")
	sqlite3Shell(t, local, `
create table ev(id integer primary key, at datetime, ok boolean, note text, amount real, raw blob);
insert into ev values
  (1, '2026-11-24 10:00:00', 1, 'plain', 1.5, x'4142'),
  (2, 'not a date', 0, 'a,b "quoted"', 0.1, null),
  (3, 1764000000, 2, ' padded ', 100.0, x''),
  (4, null, null, '日本語', -2.5e-7, x'00'),
  (5, '2026-11-24T10:00:00Z', 1, '', 3e20, null);
create view v as select id, note from ev;
create index ev_at on ev(at);`)
	rep = filepath.Join(dir, "replica")
	strata(t, "import", local, rep).want(t, 0)
	return rep, local
}

// query prints exactly what sqlite3 prints for the same SQL on the same
// database, in every mode both have (json aside: sqlite3 3.40 prints reals
// with 20 digits; see TestQueryJSON).
func TestQueryOutputMatchesSqlite3(t *testing.T) {
	rep, local := typedReplica(t)
	queries := []string{
		`select * from ev order by id`,
		`select id, at, ok from ev where id > 1; select count(*) as n from ev; select note from v where id = 4`,
		`select 1 as a, 2 as a, null as n`,
		`select * from ev where id > 100`, // no rows: nothing printed
	}
	// sqlite3 3.40 sizes table columns by characters, so wide ones break
	// its tables (see TestQueryTableWideCharacters): not compared there.
	tableQueries := []string{
		`select * from ev where id <> 4 order by id`,
		`select id, at, ok from ev where id > 1 and id <> 4; select count(*) as n from ev`,
		queries[2], queries[3],
	}
	for _, mode := range [][]string{{}, {"-header"}, {"-csv"}, {"-csv", "-header"}, {"-line"}, {"-table"}, {"-box"}} {
		qs := queries
		if len(mode) > 0 && (mode[0] == "-table" || mode[0] == "-box") {
			qs = tableQueries
		}
		for _, q := range qs {
			name := strings.Join(mode, " ") + " " + q
			t.Run(name, func(t *testing.T) {
				want := sqlite3Out(t, local, append(append([]string{}, mode...), q)...)
				args := append(append([]string{"query"}, mode...), rep, q)
				r := strata(t, args...)
				r.want(t, 0)
				if r.stdout != want {
					t.Errorf("strata query %v:\n%s\nsqlite3 %v:\n%s", mode, r.stdout, mode, want)
				}
			})
		}
	}
}

// Tables line up columns holding wide characters by their width on a
// terminal.
func TestQueryTableWideCharacters(t *testing.T) {
	rep, _ := typedReplica(t)
	r := strata(t, "query", "-box", rep, `select id, note from ev where id in (1, 4) order by id`)
	r.want(t, 0)
	want := `┌────┬────────┐
│ id │  note  │
├────┼────────┤
│ 1  │ plain  │
│ 4  │ 日本語 │
└────┴────────┘
`
	if r.stdout != want {
		t.Errorf("query -box:\n%s\nwant:\n%s", r.stdout, want)
	}
}

// query -json keeps column order and duplicate names, prints one array
// per statement, and values as sqlite3 -json does.
func TestQueryJSON(t *testing.T) {
	rep, _ := typedReplica(t)
	r := strata(t, "query", "-json", rep, `select 2 as b, 1 as a, 3 as b; select id, at, ok, note, amount from ev where id in (2, 4) order by id; select 1 where 0`)
	r.want(t, 0)
	want := `[{"b":2,"a":1,"b":3}]
[{"id":2,"at":"not a date","ok":0,"note":"a,b \"quoted\"","amount":0.1},
{"id":4,"at":null,"ok":null,"note":"日本語","amount":-2.5e-07}]
`
	if r.stdout != want {
		t.Errorf("query -json:\n%s\nwant:\n%s", r.stdout, want)
	}
	for i, line := range strings.Split(strings.TrimSpace(r.stdout), "\n[") {
		if i > 0 {
			line = "[" + line
		}
		var v any
		if err := json.Unmarshal([]byte(line), &v); err != nil {
			t.Errorf("result %d is not JSON: %v\n%s", i, err, line)
		}
	}
	r = strata(t, "query", "-json", rep, `select x'00ff41' as b, char(9, 10, 1) as c, 1e999 as inf`)
	r.want(t, 0)
	if want := `[{"b":"\u0000` + "\ufffd" + `A","c":"\t\n\u0001","inf":1e999}]` + "\n"; r.stdout != want {
		t.Errorf("query -json of blobs, control characters, infinity:\n%q\nwant\n%q", r.stdout, want)
	}
}

// Every statement of a script runs; the first error stops it with exit 1
// after printing what came before, and names the problem.
func TestQueryScripts(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	r := strata(t, "query", rep, "select 1; select 2;\n-- a comment\nselect 3 /* and another */;")
	r.want(t, 0)
	if r.stdout != "1\n2\n3\n" {
		t.Errorf("stdout %q, want every result", r.stdout)
	}
	r = strata(t, "query", rep, "select 1; select nope from orders; select 3")
	r.want(t, 1, "no such column: nope")
	if r.stdout != "1\n" {
		t.Errorf("stdout %q, want the first result only", r.stdout)
	}
	strata(t, "query", "-json", "-csv", rep, "select 1").want(t, 2, "one output mode")
	r = strata(t, "query", rep, "pragma strata_time = '"+fixture.TimeFor(fixture.Truth(t), 3).UTC().Format("2006-01-02T15:04:05.000Z")+"'; select count(*) from orders")
	r.want(t, 0)
	if want := fixture.Truth(t)[3].Count; !strings.HasSuffix(r.stdout, "\n"+itoa(want)+"\n") {
		t.Errorf("time travel within one script: %q, want %d orders last", r.stdout, want)
	}
}

func itoa(n int64) string {
	b, _ := json.Marshal(n)
	return string(b)
}

// query and shell write no file: ATTACH of anything but another strata
// replica or :memory:, and VACUUM INTO, are refused before SQLite creates
// the file.
func TestQueryWritesNothing(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	dir := t.TempDir()
	target := filepath.Join(dir, "x.db")
	for _, sql := range []string{
		`attach 'file:` + target + `?vfs=unix' as x; create table x.t(a); insert into x.t values (1)`,
		`attach '` + target + `' as x`,
		`attach 'file:` + target + `' as x`,
		`attach 'file:` + target + `?vfs=strata&vfs=unix' as x`,
		`attach 'file:` + target + `?v%66s=unix&vfs=strata' as x`,
		`attach 'file:` + target + `?vfs=strat%61&vfs=unix-none' as x`,
		`attach '` + target + `' || '' as x`,
		`vacuum into '` + target + `'`,
	} {
		t.Run(sql, func(t *testing.T) {
			strata(t, "query", rep, sql).want(t, 1, "write no local file")
			noFiles(t, dir)
		})
	}
	r := strata(t, "query", rep, `attach ':memory:' as m; select 42 from m.sqlite_schema union all select 42;
attach 'file:past.db?vfs=strata&replica=`+rep+`&txid=5' as past; select count(*) from past.orders`)
	r.want(t, 0)
	if want := "42\n" + itoa(fixture.Truth(t)[3].Count) + "\n"; r.stdout != want {
		t.Errorf("attaching :memory: and a strata replica: %q, want %q", r.stdout, want)
	}
	if _, err := os.Stat("past.db"); err == nil {
		t.Error("attaching a strata replica created past.db")
	}
}

func TestAttachAllowed(t *testing.T) {
	for name, want := range map[string]bool{
		":memory:":                            true,
		"file:p?vfs=strata&replica=/x":        true,
		"file:p?replica=/x&vfs=strata#x":      true,
		"file:p?vf%73=strata":                 true,
		"file:p":                              false,
		"p.db":                                false,
		"":                                    true, // a private temp database (VACUUM)
		"file:p?vfs=strata&vfs=unix":          false,
		"file:p?vfs=unix":                     false,
		"file:p?vfs=strata%00&vfs=unix":       false,
		"file:p?vfs=%zz":                      false,
		"file:p?vfs=strata%":                  false,
		"file:p#?vfs=strata":                  false,
		"file:p?mode=memory":                  false,
		"file::memory:?vfs=strata2":           false,
		"FILE:p?vfs=strata":                   false,
		"file:p?VFS=strata":                   false,
		"file:p?vfs=strata&x=%41":             true,
		"file:/abs/p?cache=shared&vfs=strata": true,
	} {
		if got := attachAllowed(name); got != want {
			t.Errorf("attachAllowed(%q) = %v, want %v", name, got, want)
		}
	}
}

// query prints nothing before its context ends it.
func TestQueryInterruptedByContext(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	var stdout, stderr bytes.Buffer
	if code := run(ctx, []string{"query", rep, "select 1"}, &stdout, &stderr); code == 0 {
		t.Errorf("a cancelled query exited 0: %s", stderr.String())
	}
}
