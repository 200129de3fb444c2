package integration

// The strata command as a process: signals, kill -9, memory while
// streaming, logs, version — what only a real child process shows.

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"debug/buildinfo"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/bench/proxy"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
)

// lockedBuffer collects a child's output while the test reads it.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (l *lockedBuffer) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.Write(p)
}

func (l *lockedBuffer) String() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.b.String()
}

// child is a strata process started in the background.
type child struct {
	cmd            *exec.Cmd
	stdin          io.WriteCloser
	stdout, stderr *lockedBuffer
	done           chan struct{}
}

// startStrata starts the command; the test's cleanup kills it if it is
// still running.
func startStrata(t testing.TB, env []string, dir string, args ...string) *child {
	t.Helper()
	c := &child{cmd: exec.Command(strataBin(t), args...), stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan struct{})}
	c.cmd.Dir, c.cmd.Env = dir, env
	c.cmd.Stdout, c.cmd.Stderr = c.stdout, c.stderr
	var err error
	if c.stdin, err = c.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := c.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { c.cmd.Wait(); close(c.done) }()
	t.Cleanup(func() {
		c.cmd.Process.Kill()
		<-c.done
	})
	return c
}

// wait waits for the process to end and returns its exit code (-1 if a
// signal killed it).
func (c *child) wait(t testing.TB) int {
	t.Helper()
	select {
	case <-c.done:
	case <-time.After(cliProcTimeout):
		t.Fatalf("strata %v did not end within %s\nstderr: %s", c.cmd.Args[1:], cliProcTimeout, c.stderr)
	}
	return c.cmd.ProcessState.ExitCode()
}

// slowS3Replica is a replica of a ~3 MiB database of incompressible
// rows on S3, reached through a proxy that sends 512 KiB/s: a restore of
// it takes seconds, time enough to interrupt or kill it.
func slowS3Replica(t *testing.T) (url string, env []string) {
	t.Helper()
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, strings.ToLower(strings.ReplaceAll(t.Name(), "/", "-")))
	env = cliEnv(t, srv.Env()...)
	dir := t.TempDir()
	src := filepath.Join(dir, "big.db")
	db, err := sql.Open("sqlite3", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`create table b(x blob); insert into b select randomblob(4000) from (with recursive c(i) as (select 1 union all select i+1 from c limit 750) select i from c)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	strataOK(t, env, dir, "import", src, srv.URL(bucket, "big"))
	p, err := proxy.New(srv.Endpoint(), proxy.Options{Bandwidth: 512 << 10})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return s3URL(p.URL(), bucket, "big"), env
}

// tempFiles lists the restore temporary files in dir.
func tempFiles(dir string) []string {
	entries, _ := os.ReadDir(dir)
	var names []string
	for _, e := range entries {
		if strings.Contains(e.Name(), ".restore-") {
			names = append(names, e.Name())
		}
	}
	return names
}

// Ctrl-C during a restore: the command says it was interrupted, exits 130,
// and leaves neither the output nor a temporary file.
func TestCLIRestoreInterrupted(t *testing.T) {
	url, env := slowS3Replica(t)
	dir := t.TempDir()
	c := startStrata(t, env, dir, "restore", "-o", "out.db", url)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(tempFiles(dir)) == 1, "the restore never started writing: " + c.stderr.String()
	})
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	if code := c.wait(t); code != 130 {
		t.Errorf("exit code %d after SIGINT, want 130\nstderr: %s", code, c.stderr)
	}
	if s := c.stderr.String(); !strings.Contains(s, "interrupted (SIGINT)") || strings.Contains(strings.ToLower(s), "corrupt") {
		t.Errorf("stderr does not say it was interrupted (or blames the data): %s", s)
	}
	cliNoFiles(t, dir)
}

// kill -9 during a restore leaves its temporary file; the next restore to
// the same path removes it and says so.
func TestCLIRestoreKilledThenSwept(t *testing.T) {
	url, env := slowS3Replica(t)
	dir := t.TempDir()
	c := startStrata(t, env, dir, "restore", "-o", "out.db", url)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return len(tempFiles(dir)) == 1, "the restore never started writing: " + c.stderr.String()
	})
	if err := c.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	c.wait(t)
	left := tempFiles(dir)
	if len(left) != 1 {
		t.Fatalf("after kill -9: temporary files %v, want the killed restore's one", left)
	}
	r := strataOK(t, env, dir, "restore", "-o", "out.db", url)
	if !strings.Contains(r.stderr, "removed 1 temporary file(s) left by an earlier interrupted restore: "+left[0]) {
		t.Errorf("the second restore does not say it removed %s: %s", left[0], r)
	}
	if got := tempFiles(dir); len(got) != 0 {
		t.Errorf("temporary files left: %v", got)
	}
	if ic := cliRows(t, filepath.Join(dir, "out.db"), `pragma integrity_check`); len(ic) != 1 || ic[0] != "[ok]" {
		t.Errorf("integrity_check: %v", ic)
	}
}

// Ctrl-C in the shell ends the statement that runs, and only it: the
// next statement works.
func TestCLIShellInterruptCancelsOneStatement(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	c := startStrata(t, cliEnv(t), t.TempDir(), "shell", rep)
	// The first row (over 32 KiB, so it is flushed at once) shows that the
	// statement runs; the second takes minutes.
	io.WriteString(c.stdin, `select 'started' || printf('%.40000c', 'x') union all
  select count(*) from (with recursive n(i) as (select 1 union all select i + 1 from n) select i from n limit 4000000000);
`)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		return strings.HasPrefix(c.stdout.String(), "started"), "the long statement never started: " + c.stderr.String()
	})
	if err := c.cmd.Process.Signal(os.Interrupt); err != nil {
		t.Fatal(err)
	}
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(c.stderr.String(), "Error: interrupted"), "SIGINT did not interrupt the statement: " + c.stderr.String()
	})
	fmt.Fprintln(c.stdin, "select count(*) from orders;")
	c.stdin.Close()
	code := c.wait(t)
	last := fixture.Truth(t)[len(fixture.Truth(t))-1]
	if !strings.HasSuffix(c.stdout.String(), fmt.Sprintf("\n%d\n", last.Count)) {
		t.Errorf("the statement after the interrupt did not run: stdout ends %q, stderr %s", tail(c.stdout.String()), c.stderr)
	}
	if code != 1 || strings.Contains(c.stderr.String(), "context canceled") {
		t.Errorf("exit %d (want 1: one statement failed), stderr: %s", code, c.stderr)
	}
}

func tail(s string) string {
	if len(s) > 80 {
		return s[len(s)-80:]
	}
	return s
}

// countingWriter counts what a child writes without keeping it.
type countingWriter struct {
	mu    sync.Mutex
	n     int64
	first []byte
}

func (w *countingWriter) Write(p []byte) (int, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if len(w.first) < 200 {
		w.first = append(w.first, p[:min(len(p), 200-len(w.first))]...)
	}
	w.n += int64(len(p))
	return len(p), nil
}

// query -json streams: a result many times larger than the process's
// memory goes through it.
func TestCLIQueryJSONStreams(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, strataBin(t), "query", "-json", rep,
		`with recursive n(i) as (select 1 union all select i + 1 from n limit 1000000) select i, hex(randomblob(60)) as h, i * 0.5 as half from n`)
	cmd.Env = cliEnv(t)
	var out countingWriter
	var stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &stderr
	if err := cmd.Run(); err != nil {
		t.Fatalf("query -json: %v\n%s", err, stderr.String())
	}
	rss := cmd.ProcessState.SysUsage().(*syscall.Rusage).Maxrss << 10 // KiB on Linux
	t.Logf("query -json wrote %d MiB with a peak RSS of %d MiB", out.n>>20, rss>>20)
	if out.n < 100<<20 {
		t.Fatalf("only %d bytes of output: %q", out.n, out.first)
	}
	if !bytes.HasPrefix(out.first, []byte(`[{"i":1,"h":"`)) {
		t.Errorf("output starts %q", out.first)
	}
	if rss > 100<<20 {
		t.Errorf("peak RSS %d MiB for %d MiB of output: the result is held in memory", rss>>20, out.n>>20)
	}
}

// STRATA_LOG_LEVEL=debug makes query log to stderr (never to stdout).
func TestCLILogs(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	r := strataOK(t, cliEnv(t, "STRATA_LOG_LEVEL=debug"), "", "query", rep, "select 1")
	if r.stdout != "1\n" {
		t.Errorf("stdout %q: logs must not go there", r.stdout)
	}
	for _, w := range []string{"level=DEBUG", "opening replica", "level=INFO", "opened replica"} {
		if !strings.Contains(r.stderr, w) {
			t.Errorf("the logs do not mention %q: %s", w, r.stderr)
		}
	}
	r = strataOK(t, cliEnv(t), "", "query", rep, "select 1")
	if r.stderr != "" {
		t.Errorf("without STRATA_LOG_LEVEL: stderr %q", r.stderr)
	}
	out := filepath.Join(t.TempDir(), "out.db")
	r = strataOK(t, cliEnv(t, "STRATA_LOG_LEVEL=info"), "", "restore", "-o", out, rep)
	if !strings.Contains(r.stderr, "restore plan") {
		t.Errorf("restore logs no plan: %s", r.stderr)
	}
}

// strata version and --version print the module version and the commit
// the binary was built from (what the Go toolchain recorded in it).
func TestCLIVersion(t *testing.T) {
	bin := strataBin(t)
	info, err := buildinfo.ReadFile(bin)
	if err != nil {
		t.Fatal(err)
	}
	commit := "unknown"
	for _, s := range info.Settings {
		if s.Key == "vcs.revision" {
			commit = s.Value
		}
	}
	root, err := fixture.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	if st, err := os.Stat(filepath.Join(root, ".git")); err == nil && st.IsDir() {
		// A clone: the build must have recorded its commit.
		head, err := exec.Command("git", "-C", root, "rev-parse", "HEAD").Output()
		if err == nil && commit != strings.TrimSpace(string(head)) {
			t.Errorf("the binary records commit %q, the checkout is at %s", commit, head)
		}
	}
	for _, args := range [][]string{{"version"}, {"--version"}} {
		r := strataOK(t, cliEnv(t), "", args...)
		sc := bufio.NewScanner(strings.NewReader(r.stdout))
		var lines []string
		for sc.Scan() {
			lines = append(lines, sc.Text())
		}
		if len(lines) != 3 || lines[0] != "strata "+info.Main.Version || !strings.HasPrefix(lines[1], "commit "+commit) || !strings.HasPrefix(lines[2], "go1.") {
			t.Errorf("strata %s printed:\n%s\nwant the version %q and commit %q", args[0], r.stdout, info.Main.Version, commit)
		}
	}
}
