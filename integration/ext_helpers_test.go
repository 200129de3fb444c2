package integration

// Helpers of the loadable-extension tests (ext_*_test.go): they build
// bin/strata.so once per test process and drive it from the real sqlite3
// shell, Debian's python3 and Node with better-sqlite3 (see extNode), as
// separate processes.

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/superfly/ltx"
)

// The hosts the extension is tested in. Debian's python3 is used on
// purpose: its sqlite3 module can load extensions (pyenv builds cannot).
const (
	extSQLite3 = "/usr/bin/sqlite3"
	extPython3 = "/usr/bin/python3"
)

// extProcTimeout bounds every child process of these tests.
const extProcTimeout = 90 * time.Second

// extBuild is the extension built for this test process.
var extBuild struct {
	once sync.Once
	path string
	took time.Duration
	err  error
}

// extensionPath builds the extension exactly as the README says (once per
// test process, into a temporary directory) and returns the .so's path.
func extensionPath(t testing.TB) string {
	t.Helper()
	extBuild.once.Do(func() {
		extBuild.path, extBuild.took, extBuild.err = buildExtension()
	})
	if extBuild.err != nil {
		t.Fatal(extBuild.err)
	}
	return extBuild.path
}

func buildExtension() (string, time.Duration, error) {
	root, err := fixture.ModuleRoot()
	if err != nil {
		return "", 0, err
	}
	removeStaleExtDirs()
	// The pid in the name lets a later run remove this directory: without
	// a TestMain (the package has other owners) nothing else can.
	dir, err := os.MkdirTemp("", fmt.Sprintf("strata-ext-%d-", os.Getpid()))
	if err != nil {
		return "", 0, err
	}
	out := filepath.Join(dir, "strata.so")
	start := time.Now()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "go", "build", "-buildmode=c-shared", "-tags", "SQLITE3VFS_LOADABLE_EXT", "-o", out, "./extension")
	cmd.Dir = root
	if b, err := cmd.CombinedOutput(); err != nil {
		return "", 0, fmt.Errorf("building the extension: %v\n%s", err, b)
	}
	return out, time.Since(start), nil
}

var extDirPID = regexp.MustCompile(`^strata-ext-(\d+)-`)

// removeStaleExtDirs removes the build directories of test processes that
// are gone.
func removeStaleExtDirs() {
	entries, _ := os.ReadDir(os.TempDir())
	for _, e := range entries {
		m := extDirPID.FindStringSubmatch(e.Name())
		if m == nil || !e.IsDir() {
			continue
		}
		pid, _ := strconv.Atoi(m[1])
		if pid == os.Getpid() || syscall.Kill(pid, 0) != syscall.ESRCH {
			continue
		}
		_ = os.RemoveAll(filepath.Join(os.TempDir(), e.Name()))
	}
}

// extRequire fails the test when a host program is missing: these tests
// are about those very programs, so they are not skipped.
func extRequire(t testing.TB, path, hint string) {
	t.Helper()
	if _, err := os.Stat(path); err != nil {
		t.Fatalf("%s is needed by this test (%s): %v", path, hint, err)
	}
}

// extEnv is the environment of a child process: this process's, without
// any STRATA_* or AWS_* variable, plus extra.
func extEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if strings.HasPrefix(kv, "STRATA_") || strings.HasPrefix(kv, "AWS_") {
			continue
		}
		env = append(env, kv)
	}
	return append(env, extra...)
}

// extResult is what a child process did.
type extResult struct {
	stdout, stderr string
	err            error // nil when it exited with status 0
	code           int
}

func (r extResult) String() string {
	return fmt.Sprintf("exit %d (%v)\nstdout:\n%s\nstderr:\n%s", r.code, r.err, r.stdout, r.stderr)
}

// extRun runs a program in dir with env and stdin, bounded by
// extProcTimeout.
func extRun(t testing.TB, dir string, env []string, stdin string, name string, args ...string) extResult {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), extProcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, name, args...)
	cmd.Dir = dir
	cmd.Env = env
	cmd.Stdin = strings.NewReader(stdin)
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	r := extResult{stdout: stdout.String(), stderr: stderr.String(), err: err, code: cmd.ProcessState.ExitCode()}
	if ctx.Err() != nil {
		t.Fatalf("%s did not finish within %s: %s", name, extProcTimeout, r)
	}
	// A Go panic or a signal in the host is never an acceptable outcome.
	for _, bad := range []string{"panic:", "SIGSEGV", "fatal error:", "goroutine "} {
		if strings.Contains(r.stderr, bad) {
			t.Fatalf("%s crashed: %s", name, r)
		}
	}
	if r.code < 0 {
		t.Fatalf("%s was killed by a signal: %s", name, r)
	}
	return r
}

// extShell runs the sqlite3 shell with the extension at so loaded, then
// script on stdin (.bail on: the first error fails the run).
func extShell(t testing.TB, env []string, script string) extResult {
	t.Helper()
	extRequire(t, extSQLite3, "Debian package sqlite3")
	so := extensionPath(t)
	return extRun(t, t.TempDir(), env, ".bail on\n.load "+so+"\n"+script, extSQLite3)
}

// extPythonPrelude loads the extension (path in STRATA_TEST_EXT) the way
// the README does, and defines orders(db).
const extPythonPrelude = `
import os, sqlite3, sys, time, urllib.parse
boot = sqlite3.connect(":memory:")
boot.enable_load_extension(True)
boot.load_extension(os.environ["STRATA_TEST_EXT"])
def orders(db):
    return "%d|%d" % tuple(db.execute("select count(*), sum(cents) from orders").fetchall()[0])
def one(db, sql, *args):
    return db.execute(sql, args).fetchall()[0][0]
def connect(replica, extra=""):
    return sqlite3.connect("file:shop.db?vfs=strata&mode=ro&replica=" + urllib.parse.quote(replica, safe="/:") + extra, uri=True)
`

// extPython runs a Python script (after extPythonPrelude) in Debian's
// python3 with the extension built for the test.
func extPython(t testing.TB, env []string, script string) extResult {
	t.Helper()
	extRequire(t, extPython3, "Debian package python3; pyenv builds cannot load SQLite extensions")
	env = append(env, "STRATA_TEST_EXT="+extensionPath(t))
	return extRun(t, t.TempDir(), env, "", extPython3, "-c", extPythonPrelude+script)
}

// extOK fails the test unless r exited with status 0 and wrote nothing to
// stderr.
func extOK(t testing.TB, what string, r extResult) {
	t.Helper()
	if r.err != nil || r.stderr != "" {
		t.Fatalf("%s: %s", what, r)
	}
}

// extOrders is `select count(*), sum(cents) from orders` of a state as the
// sqlite3 shell prints it.
func extOrders(s fixture.State) string { return fmt.Sprintf("%d|%d", s.Count, s.Sum) }

// extTime formats a time for PRAGMA strata_time.
func extTime(t time.Time) string { return t.UTC().Format(time.RFC3339Nano) }

// extTruncatedReplica copies the shop fixture's replica and truncates the
// copy to maxTXID (see extTruncate).
func extTruncatedReplica(t testing.TB, maxTXID ltx.TXID) (dir string, removed map[string][]byte) {
	t.Helper()
	dir = fixture.CopyReplica(t)
	return dir, extTruncate(t, dir, maxTXID)
}

// extTruncate removes every file of the replica in dir, at any level, that
// ends past maxTXID, so that its latest state is an earlier one. It returns
// the removed level-0 files' contents by name (publishing them in order
// replays the history).
func extTruncate(t testing.TB, dir string, maxTXID ltx.TXID) (removed map[string][]byte) {
	t.Helper()
	files, err := fixture.ListFiles(dir)
	if err != nil {
		t.Fatal(err)
	}
	removed = make(map[string][]byte)
	for _, f := range files {
		if f.MaxTXID <= maxTXID {
			continue
		}
		if f.Level == 0 {
			b, err := os.ReadFile(f.Path)
			if err != nil {
				t.Fatal(err)
			}
			removed[f.Name()] = b
		}
		if err := os.Remove(f.Path); err != nil {
			t.Fatal(err)
		}
	}
	return removed
}

// extPublish writes an LTX file into a directory replica the way a writer
// does: under a temporary name first, then renamed, so a poller never
// sees half a file.
func extPublish(t testing.TB, replica string, level int, name string, b []byte) {
	t.Helper()
	dir := filepath.Join(replica, "ltx", strconv.Itoa(level))
	tmp := filepath.Join(dir, "."+name+".tmp")
	if err := os.WriteFile(tmp, b, 0o644); err != nil {
		t.Fatal(err)
	}
	if err := os.Rename(tmp, filepath.Join(dir, name)); err != nil {
		t.Fatal(err)
	}
}
