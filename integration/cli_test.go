package integration

// Tests of the strata command (cmd/strata) as a user runs it: the real
// binary, built once per test process, executed as a child process against
// a directory replica and a real S3 server (versitygw), with the exit codes
// and messages the README documents.

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/bench/proxy"
	"github.com/strata-db/strata/internal/dbcopy"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
)

// TestMain removes the strata binary built for the CLI tests once every
// test of the package has run.
func TestMain(m *testing.M) {
	code := m.Run()
	if cliBuild.dir != "" {
		_ = os.RemoveAll(cliBuild.dir)
	}
	os.Exit(code)
}

// cliProcTimeout bounds every run of the command.
const cliProcTimeout = 60 * time.Second

// cliBuild is the strata binary built for this test process.
var cliBuild struct {
	once      sync.Once
	dir, path string
	err       error
}

// strataBin builds cmd/strata (once per test process) and returns the
// binary's path.
func strataBin(t testing.TB) string {
	t.Helper()
	cliBuild.once.Do(func() {
		root, err := fixture.ModuleRoot()
		if err != nil {
			cliBuild.err = err
			return
		}
		dir, err := os.MkdirTemp("", "strata-cli-")
		if err != nil {
			cliBuild.err = err
			return
		}
		cliBuild.dir = dir
		bin := filepath.Join(dir, "strata")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		// -buildvcs=auto: record the commit where there is one (the
		// environment may say -buildvcs=false), as make build does.
		cmd := exec.CommandContext(ctx, "go", "build", "-buildvcs=auto", "-o", bin, "./cmd/strata")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			cliBuild.err = fmt.Errorf("go build ./cmd/strata: %v\n%s", err, out)
			return
		}
		cliBuild.path = bin
	})
	if cliBuild.err != nil {
		t.Fatal(cliBuild.err)
	}
	return cliBuild.path
}

// cliEnv is the environment of a run of the command: this process's
// without any STRATA_* or AWS_* variable, cut off from the machine's AWS
// configuration, plus extra (e.g. an S3 server's Env).
func cliEnv(t testing.TB, extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "STRATA_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	none := filepath.Join(t.TempDir(), "no-aws-config")
	env = append(env, "AWS_EC2_METADATA_DISABLED=true", "AWS_CONFIG_FILE="+none, "AWS_SHARED_CREDENTIALS_FILE="+none)
	return append(env, extra...)
}

// cliResult is what one run of the command did.
type cliResult struct {
	args           []string
	stdout, stderr string
	code           int
	took           time.Duration
}

func (r cliResult) String() string {
	return fmt.Sprintf("strata %s: exit %d after %s\nstdout:\n%s\nstderr:\n%s",
		strings.Join(r.args, " "), r.code, r.took.Round(time.Millisecond), r.stdout, r.stderr)
}

// strata runs the command with env in dir ("" for a temporary directory).
// A crash, a signal or a run longer than cliProcTimeout fails the test.
func strata(t testing.TB, env []string, dir string, args ...string) cliResult {
	t.Helper()
	bin := strataBin(t)
	if dir == "" {
		dir = t.TempDir()
	}
	ctx, cancel := context.WithTimeout(context.Background(), cliProcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Dir = dir
	cmd.Env = env
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	start := time.Now()
	err := cmd.Run()
	r := cliResult{args: args, stdout: stdout.String(), stderr: stderr.String(), took: time.Since(start)}
	if cmd.ProcessState != nil {
		r.code = cmd.ProcessState.ExitCode()
	}
	if ctx.Err() != nil {
		t.Fatalf("did not finish within %s: %s", cliProcTimeout, r)
	}
	if err != nil && cmd.ProcessState == nil {
		t.Fatalf("strata %s: %v", strings.Join(args, " "), err)
	}
	for _, bad := range []string{"panic:", "SIGSEGV", "fatal error:", "goroutine "} {
		if strings.Contains(r.stderr, bad) {
			t.Fatalf("crashed: %s", r)
		}
	}
	if r.code < 0 {
		t.Fatalf("killed by a signal: %s", r)
	}
	return r
}

// strataOK runs the command and fails the test unless it exits with 0.
func strataOK(t testing.TB, env []string, dir string, args ...string) cliResult {
	t.Helper()
	r := strata(t, env, dir, args...)
	if r.code != 0 {
		t.Fatalf("want exit 0: %s", r)
	}
	return r
}

// strataFails runs the command and fails the test unless it exits with
// code and its stderr contains every one of want (case-insensitively).
func strataFails(t testing.TB, code int, want []string, env []string, dir string, args ...string) cliResult {
	t.Helper()
	r := strata(t, env, dir, args...)
	if r.code != code {
		t.Errorf("want exit %d: %s", code, r)
		return r
	}
	for _, w := range want {
		if !strings.Contains(strings.ToLower(r.stderr), strings.ToLower(w)) {
			t.Errorf("stderr does not mention %q: %s", w, r)
		}
	}
	return r
}

// cliLs is what `strata ls -json` prints (the levels and latest state
// besides are tested in cmd/strata).
type cliLs struct {
	Files []cliLsEntry `json:"files"`
}

// cliLsEntry is one file of `strata ls -json`.
type cliLsEntry struct {
	Level    int       `json:"level"`
	MinTXID  string    `json:"min_txid"`
	MaxTXID  string    `json:"max_txid"`
	Size     int64     `json:"size"`
	Pages    int       `json:"pages"`
	Commit   uint32    `json:"commit"`
	PageSize uint32    `json:"page_size"`
	Time     time.Time `json:"time"`
}

// cliOrders reads count(*) and sum(cents) of orders from a local file.
func cliOrders(t testing.TB, path string) orders {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	o, err := queryOrders(db)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return o
}

// cliRows returns every row of query on the database at path, formatted.
func cliRows(t testing.TB, path, query string) []string {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	rows, err := db.Query(query)
	if err != nil {
		t.Fatalf("%s: %s: %v", path, query, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for rows.Next() {
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		if err := rows.Scan(ptrs...); err != nil {
			t.Fatal(err)
		}
		out = append(out, fmt.Sprintf("%v", vals))
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return out
}

// cliSampleDB writes a SQLite database of a few thousand rows with an
// index to dir/name.
func cliSampleDB(t testing.TB, path string) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	tx, err := db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{
		`create table items (id integer primary key, name text not null, cents integer not null, note blob)`,
		`create index items_cents on items (cents, name)`,
	} {
		if _, err := tx.Exec(s); err != nil {
			t.Fatal(err)
		}
	}
	ins, err := tx.Prepare(`insert into items (name, cents, note) values (?, ?, ?)`)
	if err != nil {
		t.Fatal(err)
	}
	for i := range 4000 {
		var note any
		if i%7 != 0 {
			note = bytes.Repeat([]byte{byte(i)}, i%97)
		}
		if _, err := ins.Exec(fmt.Sprintf("item %05d", i), (i*7919)%100003, note); err != nil {
			t.Fatal(err)
		}
	}
	ins.Close()
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
	// Some free pages too, so the copy is not a trivially fresh file.
	if _, err := db.Exec(`delete from items where id % 5 = 0`); err != nil {
		t.Fatal(err)
	}
}

// Import a database into an empty S3 replica, list it, restore it: the
// restored file is byte for byte what SQLite's backup API makes of the
// original. A second import into the now non-empty replica is refused.
func TestCLIS3RoundTrip(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, t.Name())
	url := srv.URL(bucket, "shop")
	env := cliEnv(t, srv.Env()...)
	dir := t.TempDir()

	src := filepath.Join(dir, "db.db")
	cliSampleDB(t, src)
	r := strataOK(t, env, dir, "import", src, url)
	if r.stdout != "" {
		t.Errorf("import printed on stdout: %s", r)
	}

	r = strataOK(t, env, dir, "ls", "-json", url)
	var ls cliLs
	if err := json.Unmarshal([]byte(r.stdout), &ls); err != nil {
		t.Fatalf("ls -json: %v\n%s", err, r)
	}
	files := ls.Files
	if len(files) != 1 {
		t.Fatalf("ls -json: want one file, got %d: %s", len(files), r)
	}
	f := files[0]
	if f.Level != 9 || f.MinTXID != "0000000000000001" || f.MaxTXID != "0000000000000001" {
		t.Errorf("ls -json: want level 9, TXIDs 0000000000000001-0000000000000001, got %+v", f)
	}
	if f.PageSize == 0 || f.Commit == 0 || f.Pages != int(f.Commit) || f.Size <= 0 || f.Time.IsZero() {
		t.Errorf("ls -json: implausible snapshot %+v", f)
	}

	out := filepath.Join(dir, "out.db")
	strataOK(t, env, dir, "restore", "-o", out, url)
	backup := filepath.Join(dir, "backup.db")
	if err := dbcopy.Copy(t.Context(), src, backup); err != nil {
		t.Fatal(err)
	}
	got, err := os.ReadFile(out)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(backup)
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(got, want) {
		i := 0
		for i < min(len(got), len(want)) && got[i] == want[i] {
			i++
		}
		t.Errorf("restored file (%d bytes) differs from a backup copy (%d bytes), first at byte %d", len(got), len(want), i)
	}
	if ic := cliRows(t, out, `pragma integrity_check`); !slices.Equal(ic, []string{"[ok]"}) {
		t.Errorf("integrity_check of the restored file: %v", ic)
	}
	const all = `select id, name, cents, note from items order by id`
	if g, w := cliRows(t, out, all), cliRows(t, src, all); !slices.Equal(g, w) {
		t.Errorf("restored rows differ: %d rows, want %d", len(g), len(w))
	}
	if g, w := cliRows(t, out, `select count(*) from items indexed by items_cents where cents > 50000`),
		cliRows(t, src, `select count(*) from items where cents > 50000`); !slices.Equal(g, w) {
		t.Errorf("index scan of the restored file: %v, want %v", g, w)
	}

	// The replica now holds a file: a second import is refused and adds nothing.
	strataFails(t, 1, []string{"not empty", bucket}, env, dir, "import", src, url)
	r = strataOK(t, env, dir, "ls", "-json", url)
	if err := json.Unmarshal([]byte(r.stdout), &ls); err != nil || len(ls.Files) != 1 {
		t.Errorf("after a refused import: %v, %s", err, r)
	}
}

// The shop fixture (written by Litestream): restore (from S3) and query in place
// (from the directory and from S3) give every state of truth.json, at
// latest and by -timestamp.
func TestCLIFixture(t *testing.T) {
	states := fixture.Truth(t)
	last := states[len(states)-1]
	srv, bucket, prefix := fixtureOnS3(t)
	s3 := srv.URL(bucket, prefix)
	env := cliEnv(t, srv.Env()...)
	dirReplica := fixture.ReplicaDir(t)
	const countSum = `select count(*), sum(cents) from orders`
	line := func(s fixture.State) string { return fmt.Sprintf("%d|%d\n", s.Count, s.Sum) }

	t.Run("restore", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "latest.db")
		strataOK(t, env, dir, "restore", "-o", out, s3)
		if got := cliOrders(t, out); got != truthOf(last) {
			t.Errorf("latest: got %+v, want %+v", got, truthOf(last))
		}
		if ic := cliRows(t, out, `pragma integrity_check`); !slices.Equal(ic, []string{"[ok]"}) {
			t.Errorf("integrity_check of latest: %v", ic)
		}
		for i, s := range states {
			at := fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)
			out := filepath.Join(dir, fmt.Sprintf("state%d.db", i))
			r := strataOK(t, env, dir, "restore", "-timestamp", at, "-o", out, s3)
			if !strings.Contains(r.stderr, s.TXID.String()) {
				t.Errorf("state %d: restore does not report TXID %s: %s", i, s.TXID, r)
			}
			if got := cliOrders(t, out); got != truthOf(s) {
				t.Errorf("state %d (%s) at %s: got %+v, want %+v", i, s.After, at, got, truthOf(s))
			}
		}
	})

	for _, replica := range []struct{ name, url string }{{"dir", dirReplica}, {"s3", s3}} {
		t.Run("query "+replica.name, func(t *testing.T) {
			r := strataOK(t, env, "", "query", replica.url, countSum)
			if r.stdout != line(last) || r.stderr != "" {
				t.Errorf("latest: want stdout %q and no stderr: %s", line(last), r)
			}
			for i, s := range states {
				at := fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)
				r := strataOK(t, env, "", "query", "-timestamp", at, replica.url, countSum)
				if r.stdout != line(s) || r.stderr != "" {
					t.Errorf("state %d (%s) at %s: want stdout %q and no stderr: %s", i, s.After, at, line(s), r)
				}
			}
			r = strataOK(t, env, "", "query", "-json", replica.url, `select count(*) as n, sum(cents) as cents, 'x|y' as s, null as z from orders`)
			var rows []map[string]any
			if err := json.Unmarshal([]byte(r.stdout), &rows); err != nil {
				t.Fatalf("query -json: %v: %s", err, r)
			}
			want := map[string]any{"n": float64(last.Count), "cents": float64(last.Sum), "s": "x|y", "z": nil}
			if len(rows) != 1 || fmt.Sprint(rows[0]) != fmt.Sprint(want) {
				t.Errorf("query -json: got %v, want [%v]", rows, want)
			}
		})
	}
}

// Failures give exit 1 (2 for a wrong call) and a message naming what
// failed, quickly, and leave nothing half-done behind.
func TestCLIErrors(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, t.Name())
	testenv.CopyFixtureToS3(t, srv, bucket, "shop", fixture.Dir(t))
	env := cliEnv(t, srv.Env()...)
	dirReplica := fixture.ReplicaDir(t)
	states := fixture.Truth(t)

	t.Run("unreachable endpoint", func(t *testing.T) {
		closed := testenv.ClosedAddr(t)
		url := fmt.Sprintf("s3://%s/shop?endpoint=http://%s&region=%s", bucket, closed, testenv.Region)
		for _, args := range [][]string{
			{"ls", url},
			{"restore", "-o", "out.db", url},
			{"query", url, "select count(*) from orders"},
		} {
			dir := t.TempDir()
			r := strataFails(t, 1, []string{closed, bucket}, env, dir, args...)
			if r.took > 15*time.Second {
				t.Errorf("took %s to give up (want <= 15s): %s", r.took, r)
			}
			t.Logf("%s: %s in %s", args[0], strings.TrimSpace(r.stderr), r.took.Round(time.Millisecond))
			cliNoFiles(t, dir)
		}
	})

	t.Run("wrong credentials", func(t *testing.T) {
		bad := cliEnv(t, "AWS_ACCESS_KEY_ID="+testenv.AccessKey, "AWS_SECRET_ACCESS_KEY=not-the-secret", "AWS_SESSION_TOKEN=")
		url := srv.URL(bucket, "shop")
		for _, args := range [][]string{
			{"ls", url},
			{"restore", "-o", "out.db", url},
			{"query", url, "select count(*) from orders"},
		} {
			dir := t.TempDir()
			r := strataFails(t, 1, []string{bucket}, bad, dir, args...)
			if s := strings.ToLower(r.stderr); !strings.Contains(s, "credential") && !strings.Contains(s, "access denied") &&
				!strings.Contains(s, "signature") {
				t.Errorf("the message says nothing about credentials or access: %s", r)
			}
			if strings.Contains(r.stderr, "not-the-secret") {
				t.Errorf("the message shows the secret: %s", r)
			}
			t.Logf("%s: %s in %s", args[0], strings.TrimSpace(r.stderr), r.took.Round(time.Millisecond))
			cliNoFiles(t, dir)
		}
	})

	t.Run("missing bucket", func(t *testing.T) {
		missing := "no-such-bucket-" + fmt.Sprint(time.Now().UnixNano()%1e6)
		url := srv.URL(missing, "shop")
		for _, args := range [][]string{
			{"ls", url},
			{"restore", "-o", "out.db", url},
			{"query", url, "select count(*) from orders"},
			{"import", filepath.Join(dirReplica, "..", "truth.json"), url},
		} {
			dir := t.TempDir()
			r := strataFails(t, 1, []string{missing}, env, dir, args...)
			t.Logf("%s: %s in %s", args[0], strings.TrimSpace(r.stderr), r.took.Round(time.Millisecond))
			cliNoFiles(t, dir)
		}
	})

	t.Run("timestamp before the first transaction", func(t *testing.T) {
		early := states[0].Time().Add(-time.Hour).UTC().Format(time.RFC3339Nano)
		for _, url := range []string{dirReplica, srv.URL(bucket, "shop")} {
			dir := t.TempDir()
			strataFails(t, 1, []string{"before the first transaction"}, env, dir, "restore", "-timestamp", early, "-o", "out.db", url)
			strataFails(t, 1, []string{"before the first transaction"}, env, dir, "query", "-timestamp", early, url, "select 1")
			cliNoFiles(t, dir)
		}
	})

	t.Run("bad txid", func(t *testing.T) {
		dir := t.TempDir()
		for _, bad := range []string{"zz", "-3", "0x", "1.5", "0"} {
			strataFails(t, 2, []string{"-txid", fmt.Sprintf("%q", bad)}, env, dir, "restore", "-txid", bad, "-o", "out.db", dirReplica)
		}
		cliNoFiles(t, dir)
		strataFails(t, 2, []string{"-timestamp", "yesterday"}, env, dir, "restore", "-timestamp", "yesterday", "-o", "out.db", dirReplica)
		strataFails(t, 2, []string{"-txid and -timestamp"}, env, dir, "restore", "-txid", "3", "-timestamp", "2026-11-24T22:14:36Z", "-o", "out.db", dirReplica)

		// Other wrong calls.
		strataFails(t, 2, []string{"-o"}, env, dir, "restore", dirReplica)
		strataFails(t, 2, []string{"-bogus"}, env, dir, "restore", "-bogus", "-o", "out.db", dirReplica)
		strataFails(t, 2, []string{"argument"}, env, dir, "query", dirReplica)
		strataFails(t, 2, []string{`"frobnicate"`}, env, dir, "frobnicate")
		cliNoFiles(t, dir)

		// A bad -txid or -timestamp value is a wrong call (exit 2) for
		// query too, and the message names the value.
		for _, flagValue := range [][2]string{{"-txid", "zz"}, {"-timestamp", "garbage"}} {
			strataFails(t, 2, []string{fmt.Sprintf("%q", flagValue[1])}, env, dir, "query", flagValue[0], flagValue[1], dirReplica, "select 1")
		}
	})

	t.Run("restore onto an existing file", func(t *testing.T) {
		dir := t.TempDir()
		out := filepath.Join(dir, "precious.db")
		const content = "not to be overwritten"
		if err := os.WriteFile(out, []byte(content), 0o644); err != nil {
			t.Fatal(err)
		}
		strataFails(t, 1, []string{out, "-force"}, env, dir, "restore", "-o", out, dirReplica)
		if b, err := os.ReadFile(out); err != nil || string(b) != content {
			t.Errorf("the existing file changed: %q, %v", b, err)
		}
		if entries, _ := os.ReadDir(dir); len(entries) != 1 {
			t.Errorf("the refused restore left files behind: %v", entries)
		}
		// With -force it is replaced.
		strataOK(t, env, dir, "restore", "-force", "-o", out, dirReplica)
		if got := cliOrders(t, out); got != truthOf(states[len(states)-1]) {
			t.Errorf("restore -force: got %+v", got)
		}
	})
}

// cliNoFiles fails the test if a failed command left files in dir.
func cliNoFiles(t testing.TB, dir string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		t.Errorf("a failed command left %s behind", filepath.Join(dir, e.Name()))
	}
}

// Requests and wall time of a restore of the fixture, and of a cold
// `strata query`, from S3 behind a 20 ms round trip.
func TestCLIMeasure(t *testing.T) {
	states := fixture.Truth(t)
	last := states[len(states)-1]
	srv, bucket, prefix := fixtureOnS3(t)
	const latency = 20 * time.Millisecond
	p, err := proxy.New(srv.Endpoint(), proxy.Options{Latency: latency})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	url := s3URL(p.URL(), bucket, prefix)
	env := cliEnv(t, srv.Env()...)
	dir := t.TempDir()
	strataBin(t) // not part of the measurement

	describe := func(s proxy.Stats) string {
		return fmt.Sprintf("%d requests (%d LIST, %d range GET, %d errors), %d bytes in",
			s.Requests, s.Lists, s.RangeGETs, s.Errors, s.ResponseBytes)
	}

	p.Reset()
	out := filepath.Join(dir, "shop.db")
	r := strataOK(t, env, dir, "restore", "-o", out, url)
	st := p.Stats()
	t.Logf("restore fixture via S3+20ms: %s, %s (process wall time); per request p50 %s, max %s; strata says: %s",
		describe(st), r.took.Round(time.Millisecond), st.Latency.P50.Round(100*time.Microsecond),
		st.Latency.Max.Round(100*time.Microsecond), strings.TrimSpace(r.stderr))
	if r.took < 2*latency {
		t.Errorf("restore took %s: less than two round trips through the proxy", r.took)
	}
	if got := cliOrders(t, out); got != truthOf(last) {
		t.Errorf("restored: got %+v, want %+v", got, truthOf(last))
	}
	if st.Requests > 30 {
		t.Errorf("restore made %d requests, want <= 30", st.Requests)
	}
	if st.Requests == 0 {
		t.Error("restore made no request through the proxy: is the URL pointing at it?")
	}
	if st.Errors != 0 {
		t.Errorf("restore met %d errors", st.Errors)
	}

	p.Reset()
	r = strataOK(t, env, dir, "query", url, "select count(*) from orders")
	st = p.Stats()
	t.Logf("query count(*) cold via S3+20ms: %s, %s (process wall time); per request p50 %s, max %s",
		describe(st), r.took.Round(time.Millisecond), st.Latency.P50.Round(100*time.Microsecond), st.Latency.Max.Round(100*time.Microsecond))
	if r.took < 2*latency {
		t.Errorf("query took %s: less than two round trips through the proxy", r.took)
	}
	if want := fmt.Sprintf("%d\n", last.Count); r.stdout != want {
		t.Errorf("query: want %q: %s", want, r)
	}
	if st.Requests == 0 || st.Requests > 60 {
		t.Errorf("cold query made %d requests, want 1..60", st.Requests)
	}
	if r.took > 10*time.Second {
		t.Errorf("cold query took %s", r.took)
	}
}
