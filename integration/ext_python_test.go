package integration

import (
	"bufio"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
)

// Every state of the fixture from Python: pragma and function.
func TestExtPythonTimeTravel(t *testing.T) {
	states := fixture.Truth(t)
	var script, want strings.Builder
	fmt.Fprintf(&script, "db = connect(%q)\nprint(orders(db), one(db, 'select strata_time()'))\n", fixture.ReplicaDir(t))
	fmt.Fprintf(&want, "%s latest\n", extOrders(states[len(states)-1]))
	for i, s := range states {
		at := extTime(fixture.TimeFor(states, i))
		fmt.Fprintf(&script, "db.execute(\"PRAGMA strata_time = '%s'\")\nprint(orders(db), one(db, 'select strata_txid()'))\n", at)
		fmt.Fprintf(&script, "print(one(db, 'select strata_set_time(?)', 'latest'), orders(db))\n")
		fmt.Fprintf(&script, "print(one(db, 'select strata_set_time(?)', %q), orders(db), one(db, 'PRAGMA strata_txid'))\n", at)
		fmt.Fprintf(&script, "db.execute(\"PRAGMA strata_time = 'latest'\")\n")
		fmt.Fprintf(&want, "%s %s\nlatest %s\n%s %s %s\n", extOrders(s), states[i].TXID, extOrders(states[len(states)-1]), at, extOrders(s), states[i].TXID)
	}
	// Errors come back as sqlite3 exceptions with the pragma's message.
	script.WriteString(`
for sql in ["select strata_set_time('soon')", "PRAGMA strata_time = 'soon'", "select strata_txid()"]:
    conn = db if "strata_txid" not in sql else boot
    try:
        conn.execute(sql).fetchall()
        print("no error:", sql)
    except sqlite3.Error as e:
        print(type(e).__name__, e)
`)
	want.WriteString("OperationalError strata_time: invalid time \"soon\": want 'latest', an RFC 3339 time (2026-11-24T10:00:00Z) or a relative time ('5 minutes ago')\n")
	want.WriteString("OperationalError strata_time: invalid time \"soon\": want 'latest', an RFC 3339 time (2026-11-24T10:00:00Z) or a relative time ('5 minutes ago')\n")
	want.WriteString("OperationalError strata_txid(): 'main' is not a strata database (open it with file:NAME?vfs=strata&replica=URL)\n")

	r := extPython(t, extEnv(), script.String())
	extOK(t, "python", r)
	if got := strings.TrimSpace(r.stdout); got != strings.TrimSpace(want.String()) {
		t.Fatalf("got\n%s\nwant\n%s", got, want.String())
	}
}

// extFollowScript keeps two connections open: one following the replica,
// one looking at a past time. For each TXID on stdin it polls the live one
// until it shows that TXID (some transactions leave the orders as they
// were), then prints what it sees.
const extFollowScript = `
live = connect(os.environ["REPLICA"])
past = connect(os.environ["REPLICA"])
past.execute("PRAGMA strata_time = '%s'" % os.environ["PAST"])
print("ready", orders(live), one(live, "select strata_txid()"), orders(past), flush=True)
for line in sys.stdin:
    want = line.strip()
    deadline = time.time() + 30
    got = one(live, "select strata_txid()")
    while got != want and time.time() < deadline:
        time.sleep(0.02)
        got = one(live, "select strata_txid()")
    print("saw", orders(live), got, orders(past), "%.3f" % one(live, "select strata_lag()"), flush=True)
`

// A Python connection that stays open follows new LTX files as they
// appear in the replica, while a second one keeps looking at the past.
func TestExtPythonFollowsNewFiles(t *testing.T) {
	extRequire(t, extPython3, "Debian package python3")
	states := fixture.Truth(t)
	start := 6 // the copy ends at states[6]; the later level-0 files come one by one
	replica, removed := extTruncatedReplica(t, states[start].TXID)
	names := make([]string, 0, len(removed))
	for name := range removed {
		names = append(names, name)
	}
	sort.Strings(names)
	if len(names) != len(states)-1-start {
		t.Fatalf("removed %v", names)
	}

	ctx, cancel := context.WithTimeout(context.Background(), extProcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, extPython3, "-c", extPythonPrelude+extFollowScript)
	cmd.Dir = t.TempDir()
	cmd.Env = extEnv("STRATA_TEST_EXT="+extensionPath(t), "STRATA_POLL_INTERVAL=100ms",
		"REPLICA="+replica, "PAST="+extTime(fixture.TimeFor(states, 2)))
	stdin, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	defer func() {
		stdin.Close()
		if err := cmd.Wait(); err != nil || stderr.Len() > 0 {
			t.Errorf("python: %v\n%s", err, stderr.String())
		}
	}()
	lines := bufio.NewScanner(stdout)
	next := func() []string {
		t.Helper()
		if !lines.Scan() {
			stdin.Close()
			_ = cmd.Wait()
			t.Fatalf("python stopped: %v\n%s", lines.Err(), stderr.String())
		}
		return strings.Fields(lines.Text())
	}

	pastWant := extOrders(states[2])
	if got := next(); strings.Join(got, " ") != fmt.Sprintf("ready %s %s %s", extOrders(states[start]), states[start].TXID, pastWant) {
		t.Fatalf("first state: %v", got)
	}
	for i, name := range names {
		s := states[start+1+i]
		published := time.Now()
		extPublish(t, replica, 0, name, removed[name])
		if _, err := io.WriteString(stdin, s.TXID.String()+"\n"); err != nil {
			t.Fatal(err)
		}
		got := next()
		took := time.Since(published)
		if len(got) != 5 || got[1] != extOrders(s) || got[2] != states[start+1+i].TXID.String() {
			t.Fatalf("after %s: want %s at TXID %s, got %v", name, extOrders(s), states[start+1+i].TXID, got)
		}
		if got[3] != pastWant {
			t.Errorf("the connection looking at the past moved: %v", got)
		}
		t.Logf("%s: seen after %s (strata_lag %s s)", name, took.Round(time.Millisecond), got[4])
	}
}

// Two replicas, and two connections to one of them, in one Python process.
func TestExtPythonTwoReplicas(t *testing.T) {
	states := fixture.Truth(t)
	older, _ := extTruncatedReplica(t, states[3].TXID)
	script := fmt.Sprintf(`
a = connect(%q)
b = connect(%q)
a2 = connect(%q)
print(orders(a), orders(b), orders(a2))
print(one(a, "select strata_txid()"), one(b, "select strata_txid()"))
b.execute("PRAGMA strata_time = '%s'")
print(orders(a), orders(b), orders(a2))
a.close()
print(orders(a2), one(b, "select strata_set_time('latest')"), orders(b))
`, fixture.ReplicaDir(t), older, fixture.ReplicaDir(t), extTime(fixture.TimeFor(states, 0)))
	last := extOrders(states[len(states)-1])
	want := fmt.Sprintf("%s %s %s\n%s %s\n%s %s %s\n%s latest %s",
		last, extOrders(states[3]), last,
		states[len(states)-1].TXID, states[3].TXID,
		last, extOrders(states[0]), last,
		last, extOrders(states[3]))
	r := extPython(t, extEnv(), script)
	extOK(t, "python", r)
	if got := strings.TrimSpace(r.stdout); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}

// The fixture on a real S3 server (versitygw): the default replica from
// STRATA_REPLICA_URL in the shell, and a replica URL with its own query
// string, percent-encoded inside the SQLite URI, from Python. The secret
// key never reaches a log.
func TestExtS3(t *testing.T) {
	states := fixture.Truth(t)
	last := extOrders(states[len(states)-1])
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "ext")
	testenv.CopyFixtureToS3(t, srv, bucket, "shop", fixture.ReplicaDir(t))
	url := srv.URL(bucket, "shop")
	logFile := t.TempDir() + "/strata.log"
	env := extEnv(append(srv.Env(), "STRATA_REPLICA_URL="+url, "STRATA_LOG_LEVEL=debug", "STRATA_LOG_FILE="+logFile)...)

	at := extTime(fixture.TimeFor(states, 3))
	r := extShell(t, env, fmt.Sprintf(".open 'file:shop.db?vfs=strata'\nselect count(*), sum(cents) from orders;\nselect strata_set_time('%s');\nselect count(*), sum(cents) from orders;\n", at))
	extOK(t, "shell", r)
	if got, want := strings.TrimSpace(r.stdout), fmt.Sprintf("%s\n%s\n%s", last, at, extOrders(states[3])); got != want {
		t.Fatalf("shell: got\n%s\nwant\n%s", got, want)
	}

	p := extPython(t, extEnv(append(srv.Env(), "STRATA_LOG_FILE="+logFile)...), fmt.Sprintf(`
db = connect(%q)
print(orders(db), one(db, "select strata_txid()"))
`, url))
	extOK(t, "python", p)
	if got, want := strings.TrimSpace(p.stdout), fmt.Sprintf("%s %s", last, states[len(states)-1].TXID); got != want {
		t.Fatalf("python: got %q, want %q", got, want)
	}

	raw, err := os.ReadFile(logFile)
	if err != nil {
		t.Fatal(err)
	}
	b := string(raw)
	if !strings.Contains(b, "strata extension loaded") {
		t.Errorf("log file lacks the load message:\n%s", b)
	}
	if strings.Contains(b, testenv.SecretKey) {
		t.Errorf("the log shows the secret key:\n%s", b)
	}
}

// Variables the host sets after it started, before loading (os.environ in
// Python), configure the extension; a failed load can be retried.
func TestExtPythonEnvironSetBeforeLoading(t *testing.T) {
	extRequire(t, extPython3, "Debian package python3")
	states := fixture.Truth(t)
	script := fmt.Sprintf(`
import os, sqlite3
os.environ["STRATA_REPLICA_URL"] = "ftp://example.com/shop"
boot = sqlite3.connect(":memory:")
boot.enable_load_extension(True)
try:
    boot.load_extension(os.environ["STRATA_TEST_EXT"])
    print("loaded with a bad URL")
except sqlite3.OperationalError as e:
    print("ftp" in str(e))
os.environ["STRATA_REPLICA_URL"] = %q
boot.load_extension(os.environ["STRATA_TEST_EXT"])
db = sqlite3.connect("file:shop.db?vfs=strata&mode=ro", uri=True)
print("%%d|%%d" %% db.execute("select count(*), sum(cents) from orders").fetchall()[0])
`, fixture.ReplicaDir(t))
	r := extRun(t, t.TempDir(), extEnv("STRATA_TEST_EXT="+extensionPath(t)), "", extPython3, "-c", script)
	extOK(t, "python", r)
	if got, want := strings.TrimSpace(r.stdout), "True\n"+extOrders(states[len(states)-1]); got != want {
		t.Fatalf("got\n%s\nwant\n%s", got, want)
	}
}
