package integration

import (
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
)

// Every state of the fixture, in the sqlite3 shell: with PRAGMA
// strata_time, with strata_set_time(), and back to latest.
func TestExtShellTimeTravel(t *testing.T) {
	states := fixture.Truth(t)
	replica := fixture.ReplicaDir(t)
	var script, want strings.Builder
	fmt.Fprintf(&script, ".open 'file:shop.db?vfs=strata&replica=%s'\n", replica)
	script.WriteString("select count(*), sum(cents) from orders;\nselect strata_time(), strata_txid(), typeof(strata_lag());\n")
	fmt.Fprintf(&want, "%s\nlatest|%s|real\n", extOrders(states[len(states)-1]), states[len(states)-1].TXID)
	for i, s := range states {
		at := extTime(fixture.TimeFor(states, i))
		fmt.Fprintf(&script, "PRAGMA strata_time = '%s';\nselect count(*), sum(cents), strata_txid() from orders;\n", at)
		fmt.Fprintf(&want, "%s\n%s|%s\n", at, extOrders(s), states[i].TXID)
		fmt.Fprintf(&script, "select strata_set_time('latest');\nselect count(*), sum(cents) from orders;\n")
		fmt.Fprintf(&want, "latest\n%s\n", extOrders(states[len(states)-1]))
		fmt.Fprintf(&script, "select strata_set_time('%s') = strata_time();\nselect count(*), sum(cents), strata_txid() from orders;\nPRAGMA strata_txid;\nPRAGMA strata_time = 'latest';\n", at)
		fmt.Fprintf(&want, "1\n%s|%s\n%s\nlatest\n", extOrders(s), states[i].TXID, states[i].TXID)
	}
	// Opening in the past with URI parameters.
	fmt.Fprintf(&script, ".open 'file:shop.db?vfs=strata&replica=%s&txid=%s'\nselect count(*), sum(cents) from orders;\n", replica, states[2].TXID)
	fmt.Fprintf(&want, "%s\n", extOrders(states[2]))
	fmt.Fprintf(&script, ".open 'file:shop.db?vfs=strata&replica=%s&time=%s'\nselect count(*), sum(cents) from orders;\n", replica, extTime(fixture.TimeFor(states, 4)))
	fmt.Fprintf(&want, "%s\n", extOrders(states[4]))

	r := extShell(t, extEnv(), script.String())
	extOK(t, "shell", r)
	if got := strings.TrimSpace(r.stdout); got != strings.TrimSpace(want.String()) {
		t.Fatalf("got\n%s\nwant\n%s", got, want.String())
	}
}

// Pragma and function errors carry the VFS's message; the functions refuse
// a database that is not a strata replica.
func TestExtShellErrors(t *testing.T) {
	replica := fixture.ReplicaDir(t)
	cases := []struct{ script, want string }{
		{"select strata_txid();", "strata_txid(): 'main' is not a strata database"},
		{"select strata_set_time('latest');", "'main' is not a strata database"},
		{"select strata_txid('nosuch');", "strata_txid(): no database named 'nosuch'"},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nselect strata_set_time('soon');", replica), `invalid time "soon"`},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nPRAGMA strata_time = 'soon';", replica), `invalid time "soon"`},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nselect strata_set_time('2000-01-01T00:00:00Z');", replica), "is before the first transaction"},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nPRAGMA strata_txid = 5;", replica), "strata_txid is read-only"},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nselect strata_set_time(NULL);", replica), "must not be NULL"},
		{fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nattach ':memory:' as aux;\ncreate view aux.v as select strata_set_time('latest');\nselect * from aux.v;", replica), "unsafe use of strata_set_time()"},
	}
	for _, c := range cases {
		r := extShell(t, extEnv(), c.script)
		if r.err == nil || !strings.Contains(r.stderr, c.want) {
			t.Errorf("%s\nwant an error containing %q, got %s", c.script, c.want, r)
		}
	}

	// A failed open: SQLite only says "unable to open database file";
	// strata_last_error() tells why.
	empty := t.TempDir()
	r := extShell(t, extEnv(), fmt.Sprintf(".bail off\nselect strata_last_error() is null;\nattach 'file:x.db?vfs=strata&replica=%s' as x;\nselect strata_last_error();\n", empty))
	if !strings.Contains(r.stderr, "unable to open database") || !strings.Contains(r.stdout, "replica is empty") || !strings.HasPrefix(r.stdout, "1\n") {
		t.Fatalf("strata_last_error: %s", r)
	}
}

// Two replicas in one shell process: the second attached to the first.
func TestExtShellAttachTwoReplicas(t *testing.T) {
	states := fixture.Truth(t)
	full := fixture.ReplicaDir(t)
	older, _ := extTruncatedReplica(t, states[3].TXID)
	script := fmt.Sprintf(`.open 'file:full.db?vfs=strata&replica=%s'
attach 'file:older.db?vfs=strata&replica=%s' as older;
select (select count(*) || '|' || sum(cents) from main.orders), (select count(*) || '|' || sum(cents) from older.orders);
select strata_txid(), strata_txid('older');
select strata_set_time('%s', 'older'), strata_time();
select (select count(*) from main.orders), (select count(*) from older.orders);
`, full, older, extTime(fixture.TimeFor(states, 1)))
	want := fmt.Sprintf("%s|%s\n%s|%s\n%s|latest\n%d|%d",
		extOrders(states[len(states)-1]), extOrders(states[3]),
		states[len(states)-1].TXID, states[3].TXID,
		extTime(fixture.TimeFor(states, 1)),
		states[len(states)-1].Count, states[1].Count)
	r := extShell(t, extEnv(), script)
	extOK(t, "shell", r)
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// A bad configuration or unreachable storage fails the load, with the
// reason, in the shell and in Python; the host never crashes.
func TestExtLoadErrors(t *testing.T) {
	closed := testenv.ClosedAddr(t)
	noAWS := filepath.Join(t.TempDir(), "absent")
	creds := []string{"AWS_ACCESS_KEY_ID=strata-test", "AWS_SECRET_ACCESS_KEY=topsecret-do-not-print", "AWS_EC2_METADATA_DISABLED=true",
		"AWS_CONFIG_FILE=" + noAWS, "AWS_SHARED_CREDENTIALS_FILE=" + noAWS}
	cases := []struct {
		name string
		env  []string
		want []string
	}{
		{"bad scheme", []string{"STRATA_REPLICA_URL=ftp://example.com/shop"}, []string{`unsupported scheme "ftp"`}},
		{"no endpoint, no credentials", []string{"STRATA_REPLICA_URL=s3://nobucket-no-endpoint/shop", "AWS_EC2_METADATA_DISABLED=true",
			"AWS_CONFIG_FILE=" + noAWS, "AWS_SHARED_CREDENTIALS_FILE=" + noAWS}, []string{"s3://nobucket-no-endpoint/shop", "credentials"}},
		{"unreachable", append([]string{"STRATA_REPLICA_URL=s3://bucket/shop?endpoint=http://" + closed}, creds...), []string{closed, "connection refused"}},
		{"password in URL", []string{"STRATA_REPLICA_URL=s3://user:hunter2@bucket/shop"}, []string{"credentials do not belong in the URL"}},
		{"poll interval", []string{"STRATA_POLL_INTERVAL=soon"}, []string{`STRATA_POLL_INTERVAL="soon"`}},
		{"cache size", []string{"STRATA_CACHE_SIZE=lots"}, []string{`STRATA_CACHE_SIZE="lots"`}},
		{"log level", []string{"STRATA_LOG_LEVEL=loud"}, []string{`STRATA_LOG_LEVEL="loud"`}},
		{"log file", []string{"STRATA_LOG_FILE=" + filepath.Join(noAWS, "x", "strata.log")}, []string{"STRATA_LOG_FILE="}},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			start := time.Now()
			r := extShell(t, extEnv(c.env...), "select 'loaded';")
			if r.err == nil || r.code != 1 || r.stdout != "" || !strings.Contains(r.stderr, "Error: error during initialization: strata: ") {
				t.Fatalf("shell: want a load error: %s", r)
			}
			for _, w := range c.want {
				if !strings.Contains(r.stderr, w) {
					t.Errorf("shell: error lacks %q: %s", w, r)
				}
			}
			for _, secret := range []string{"hunter2", "topsecret-do-not-print"} {
				if strings.Contains(r.stderr, secret) {
					t.Errorf("shell: error shows a secret: %s", r)
				}
			}
			if d := time.Since(start); d > 15*time.Second {
				t.Errorf("load error took %s", d)
			}

			p := extPython(t, extEnv(c.env...), "")
			if p.err == nil || !strings.Contains(p.stderr, "sqlite3.OperationalError: error during initialization: strata: ") {
				t.Fatalf("python: want OperationalError: %s", p)
			}
			for _, w := range c.want {
				if !strings.Contains(p.stderr, w) {
					t.Errorf("python: error lacks %q: %s", w, p)
				}
			}
		})
	}
}

// Logs go to stderr or STRATA_LOG_FILE, never to stdout, even at debug.
func TestExtLogsNeverOnStdout(t *testing.T) {
	states := fixture.Truth(t)
	replica := fixture.ReplicaDir(t)
	script := fmt.Sprintf(".open 'file:shop.db?vfs=strata&replica=%s'\nselect count(*), sum(cents) from orders;\nPRAGMA strata_time = 'soon';\n", replica)
	want := extOrders(states[len(states)-1])

	r := extShell(t, extEnv("STRATA_LOG_LEVEL=debug"), script)
	if strings.TrimSpace(r.stdout) != want {
		t.Fatalf("stdout must hold only the query's output: %s", r)
	}
	if !strings.Contains(r.stderr, "level=INFO") || !strings.Contains(r.stderr, "strata extension loaded") || !strings.Contains(r.stderr, "level=WARN") {
		t.Fatalf("debug logs should be on stderr: %s", r)
	}

	logFile := filepath.Join(t.TempDir(), "strata.log")
	r = extShell(t, extEnv("STRATA_LOG_LEVEL=debug", "STRATA_LOG_FILE="+logFile), script)
	if strings.TrimSpace(r.stdout) != want || strings.Contains(r.stderr, "level=") {
		t.Fatalf("with STRATA_LOG_FILE, logs belong in the file only: %s", r)
	}
	b, err := os.ReadFile(logFile)
	if err != nil || !strings.Contains(string(b), "strata extension loaded") {
		t.Fatalf("log file: %v\n%s", err, b)
	}
}

// The extension brings no SQLite of its own and exports nothing named
// sqlite3_* but its entry point: it runs on the host's SQLite.
func TestExtSymbols(t *testing.T) {
	so := extensionPath(t)
	t.Logf("extension built in %s", extBuild.took)
	nm, err := exec.LookPath("nm")
	if err != nil {
		t.Fatal("nm (binutils) is needed by this test")
	}
	check := func(flag string, allowed ...string) {
		out, err := exec.Command(nm, "-D", flag, so).Output()
		if err != nil {
			t.Fatalf("nm %s: %v", flag, err)
		}
		for _, line := range strings.Split(string(out), "\n") {
			f := strings.Fields(line)
			if len(f) == 0 {
				continue
			}
			sym := f[len(f)-1]
			if strings.HasPrefix(sym, "sqlite3_") && !slices.Contains(allowed, sym) {
				t.Errorf("nm -D %s: %s", flag, line)
			}
		}
	}
	check("--defined-only", "sqlite3_strata_init")
	check("--undefined-only")
}

// A SQLite older than 3.31.0 is refused with a message naming its version.
// No such SQLite is installed, so a small C program plays one: it hands the
// entry point a routines table that reports version 3.30.1.
func TestExtTooOldSQLite(t *testing.T) {
	so := extensionPath(t)
	if _, err := os.Stat("/usr/include/sqlite3ext.h"); err != nil {
		t.Fatal("sqlite3ext.h (Debian package libsqlite3-dev) is needed by this test")
	}
	cc := os.Getenv("CC")
	if cc == "" {
		cc = "gcc"
	}
	dir := t.TempDir()
	src := filepath.Join(dir, "old.c")
	prog := `
#include <dlfcn.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <sqlite3ext.h>

static int version_number(void) { return 3030001; }
static const char *version(void) { return "3.30.1"; }
static char *fake_mprintf(const char *fmt, ...) {
	char *s = NULL;
	va_list ap;
	va_start(ap, fmt);
	if (vasprintf(&s, fmt, ap) < 0) s = NULL;
	va_end(ap);
	return s;
}

int main(int argc, char **argv) {
	static sqlite3_api_routines api; /* all NULL: any other call would crash */
	char *err = NULL;
	int rc;
	void *h = dlopen(argv[1], RTLD_NOW);
	int (*init)(sqlite3 *, char **, const sqlite3_api_routines *);
	if (h == NULL) { printf("dlopen: %s\n", dlerror()); return 2; }
	init = (int (*)(sqlite3 *, char **, const sqlite3_api_routines *))dlsym(h, "sqlite3_strata_init");
	if (init == NULL) { printf("no entry point\n"); return 2; }
	api.libversion_number = version_number;
	api.libversion = version;
	api.mprintf = fake_mprintf;
	rc = init(NULL, &err, &api);
	printf("rc=%d err=%s\n", rc, err ? err : "(none)");
	return 0;
}
`
	if err := os.WriteFile(src, []byte(prog), 0o644); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "old")
	if out, err := exec.Command(cc, "-o", bin, src, "-ldl").CombinedOutput(); err != nil {
		t.Fatalf("%s: %v\n%s", cc, err, out)
	}
	r := extRun(t, dir, extEnv(), "", bin, so)
	want := "rc=1 err=strata: SQLite 3.30.1 is too old; the strata extension needs SQLite 3.31.0 or later"
	if r.err != nil || strings.TrimSpace(r.stdout) != want {
		t.Fatalf("want %q, got %s", want, r)
	}
}
