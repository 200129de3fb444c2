package integration

// Helpers of the write path's process tests: the workload program
// (internal/writeload) built once, started as real processes that open a
// replica through the strata VFS, on a directory replica and on versitygw.

import (
	"bufio"
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// writeloadBuild is the workload binary built for this test process.
var writeloadBuild struct {
	once sync.Once
	path string
	err  error
}

// writeloadBin builds internal/writeload (once per test process, next to
// the strata binary, removed by TestMain) and returns its path.
func writeloadBin(t testing.TB) string {
	t.Helper()
	strataBin(t) // makes the build directory
	writeloadBuild.once.Do(func() {
		root, err := fixture.ModuleRoot()
		if err != nil {
			writeloadBuild.err = err
			return
		}
		bin := filepath.Join(cliBuild.dir, "writeload")
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
		defer cancel()
		cmd := exec.CommandContext(ctx, "go", "build", "-o", bin, "./internal/writeload")
		cmd.Dir = root
		if out, err := cmd.CombinedOutput(); err != nil {
			writeloadBuild.err = fmt.Errorf("go build ./internal/writeload: %v\n%s", err, out)
			return
		}
		writeloadBuild.path = bin
	})
	if writeloadBuild.err != nil {
		t.Fatal(writeloadBuild.err)
	}
	return writeloadBuild.path
}

// writeBackend is an empty replica that processes can write: its URL, the
// environment that lets them reach it, and its storage for the test's own
// checks. fresh makes another empty replica on the same backend.
type writeBackend struct {
	name  string
	url   string
	env   []string
	store storage.Backend
	fresh func(t testing.TB, name string) (url string, store storage.Backend)
}

// writeBackends runs fn for an empty directory replica and an empty
// replica on versitygw, as parallel subtests (each backend's processes
// run alongside the other's).
func writeBackends(t *testing.T, fn func(t *testing.T, b writeBackend)) {
	t.Run("dir", func(t *testing.T) {
		t.Parallel()
		fn(t, dirBackend(t))
	})
	t.Run("s3", func(t *testing.T) {
		t.Parallel()
		fn(t, s3Backend(t, testenv.VersityGW(t)))
	})
}

// dirBackend is an empty directory replica.
func dirBackend(t testing.TB) writeBackend {
	t.Helper()
	b := writeBackend{name: "dir", env: cliEnv(t)}
	b.fresh = func(t testing.TB, name string) (string, storage.Backend) {
		dir := filepath.Join(t.TempDir(), name)
		st, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		return "file://" + dir, st
	}
	b.url, b.store = b.fresh(t, "replica")
	return b
}

// s3Backend is an empty replica in a new bucket on srv.
func s3Backend(t testing.TB, srv *testenv.S3Server) writeBackend {
	t.Helper()
	bucket := srv.CreateBucket(t, "write")
	b := writeBackend{name: "s3", env: cliEnv(t, srv.Env()...)}
	b.fresh = func(t testing.TB, name string) (string, storage.Backend) {
		return srv.URL(bucket, name), srv.Store(t, bucket, name)
	}
	b.url, b.store = b.fresh(t, "db")
	return b
}

// proc is a writeload (or other) process whose stdout the test reads line
// by line.
type proc struct {
	t      testing.TB
	name   string
	cmd    *exec.Cmd
	stdin  io.WriteCloser
	stderr *lockedBuffer
	done   chan struct{}

	mu    sync.Mutex
	lines []string
	cond  chan struct{} // closed and replaced at each new line
}

// procTimeout bounds how long a test waits for a process's line or end.
const procTimeout = 2 * time.Minute

// startWriteload starts `writeload mode args...` with env; the test's
// cleanup kills it if it is still running.
func startWriteload(t testing.TB, env []string, mode string, args ...string) *proc {
	t.Helper()
	return startProc(t, env, writeloadBin(t), append([]string{mode}, args...)...)
}

func startProc(t testing.TB, env []string, bin string, args ...string) *proc {
	t.Helper()
	p := &proc{t: t, name: filepath.Base(bin) + " " + strings.Join(args, " "), cmd: exec.Command(bin, args...),
		stderr: &lockedBuffer{}, done: make(chan struct{}), cond: make(chan struct{})}
	p.cmd.Env = env
	p.cmd.Stderr = p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := p.cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if p.stdin, err = p.cmd.StdinPipe(); err != nil {
		t.Fatal(err)
	}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	read := make(chan struct{})
	go func() {
		defer close(read)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			p.mu.Lock()
			p.lines = append(p.lines, sc.Text())
			close(p.cond)
			p.cond = make(chan struct{})
			p.mu.Unlock()
		}
	}()
	go func() {
		<-read // every line is in before Wait closes the pipe
		_ = p.cmd.Wait()
		close(p.done)
	}()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
	})
	return p
}

// output is every line printed so far.
func (p *proc) output() []string {
	p.mu.Lock()
	defer p.mu.Unlock()
	return slices.Clone(p.lines)
}

// waitFor waits until a line satisfies match and returns it. The process
// ending first fails the test with its stderr.
func (p *proc) waitFor(what string, match func(string) bool) string {
	p.t.Helper()
	deadline := time.After(procTimeout)
	seen := 0
	for {
		p.mu.Lock()
		lines, cond := p.lines, p.cond
		p.mu.Unlock()
		for ; seen < len(lines); seen++ {
			if match(lines[seen]) {
				return lines[seen]
			}
		}
		select {
		case <-cond:
		case <-p.done:
			if len(p.output()) == len(lines) {
				p.t.Fatalf("%s ended (%s) before printing %s\nstdout tail: %s\nstderr: %s", p.name, p.cmd.ProcessState, what, tailLines(lines, 5), p.stderr)
			}
		case <-deadline:
			p.t.Fatalf("%s did not print %s within %s\nstdout tail: %s\nstderr: %s", p.name, what, procTimeout, tailLines(lines, 5), p.stderr)
		}
	}
}

// waitLine waits for a line equal to line.
func (p *proc) waitLine(line string) {
	p.t.Helper()
	p.waitFor(strconv.Quote(line), func(s string) bool { return s == line })
}

// stop closes stdin (the workload's signal to finish) and waits for a
// clean exit.
func (p *proc) stop() {
	p.t.Helper()
	p.stdin.Close()
	p.wait(0)
}

// wait waits for the process to end with code.
func (p *proc) wait(code int) {
	p.t.Helper()
	select {
	case <-p.done:
	case <-time.After(procTimeout):
		p.t.Fatalf("%s did not end within %s\nstderr: %s", p.name, procTimeout, p.stderr)
	}
	if got := p.cmd.ProcessState.ExitCode(); got != code {
		p.t.Fatalf("%s exited with %d, want %d\nstdout tail: %s\nstderr: %s", p.name, got, code, tailLines(p.output(), 5), p.stderr)
	}
}

// kill9 kills the process with SIGKILL and waits until it is gone.
func (p *proc) kill9() {
	p.t.Helper()
	_ = p.cmd.Process.Signal(syscall.SIGKILL)
	<-p.done
}

func tailLines(lines []string, n int) string {
	if len(lines) > n {
		lines = lines[len(lines)-n:]
	}
	return strings.Join(lines, " | ")
}

// idsWith parses the ids of the lines "prefix ID ..." of out.
func idsWith(t testing.TB, out []string, prefix string) []int64 {
	t.Helper()
	var ids []int64
	for _, l := range out {
		f := strings.Fields(l)
		if len(f) >= 2 && f[0] == prefix {
			id, err := strconv.ParseInt(f[1], 10, 64)
			if err != nil {
				t.Fatalf("line %q: %v", l, err)
			}
			ids = append(ids, id)
		}
	}
	return ids
}

// summaryOf parses the "summary k1 v1 k2 v2 ..." line of out.
func summaryOf(t testing.TB, out []string) map[string]string {
	t.Helper()
	for _, l := range out {
		if f := strings.Fields(l); len(f) > 0 && f[0] == "summary" {
			m := map[string]string{}
			for i := 1; i+1 < len(f); i += 2 {
				m[f[i]] = f[i+1]
			}
			return m
		}
	}
	t.Fatalf("no summary line in %s", tailLines(out, 5))
	return nil
}

func atoi(t testing.TB, s string) int64 {
	t.Helper()
	n, err := strconv.ParseInt(s, 10, 64)
	if err != nil {
		t.Fatalf("%q: %v", s, err)
	}
	return n
}

// restoreReplica restores the latest state of store into a new local
// file and checks it with PRAGMA integrity_check; it returns the file.
func restoreReplica(t testing.TB, store storage.Backend) string {
	t.Helper()
	r := replica.New(store)
	ctx := context.Background()
	plan, err := r.Plan(ctx, replica.Target{})
	if err != nil {
		t.Fatalf("plan a restore of %s: %v", store, err)
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	f, err := os.Create(out)
	if err != nil {
		t.Fatal(err)
	}
	if err := r.Restore(ctx, plan, f, replica.RestoreOptions{}); err != nil {
		f.Close()
		t.Fatalf("restore %s: %v", store, err)
	}
	if err := f.Close(); err != nil {
		t.Fatal(err)
	}
	db := openLocal(t, out)
	defer db.Close()
	var res string
	if err := db.QueryRow(`pragma integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of the restored %s: %q, %v", store, res, err)
	}
	return out
}

// openLocal opens a local SQLite file read-only.
func openLocal(t testing.TB, path string) *sql.DB {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	return db
}

// localIDs reads the ids of table from a local SQLite file, in order.
func localIDs(t testing.TB, path, table string) []int64 {
	t.Helper()
	db := openLocal(t, path)
	defer db.Close()
	rows, err := db.Query(`select id from ` + table + ` order by id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	var ids []int64
	for rows.Next() {
		var id int64
		if err := rows.Scan(&id); err != nil {
			t.Fatal(err)
		}
		ids = append(ids, id)
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return ids
}

// level0 lists the level-0 files of store.
func level0(t testing.TB, store storage.Backend) []storage.FileInfo {
	t.Helper()
	files, err := store.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// checkContiguous fails unless files hold every TXID from 1 to their last
// once: one file per TXID, no gap.
func checkContiguous(t testing.TB, files []storage.FileInfo) ltx.TXID {
	t.Helper()
	next := ltx.TXID(1)
	for _, f := range files {
		if f.MinTXID != next || f.MaxTXID != next {
			t.Fatalf("level 0 is not one file per TXID from 1: expected TXID %s, found %s-%s", next, f.MinTXID, f.MaxTXID)
		}
		next++
	}
	return next - 1
}

// missing is the members of want absent from have (both sorted).
func missing(want, have []int64) []int64 {
	var out []int64
	for _, id := range want {
		if _, ok := slices.BinarySearch(have, id); !ok {
			out = append(out, id)
		}
	}
	return out
}

// duplicates is the values that occur more than once in sorted ids.
func duplicates(ids []int64) []int64 {
	var out []int64
	for i := 1; i < len(ids); i++ {
		if ids[i] == ids[i-1] {
			out = append(out, ids[i])
		}
	}
	return out
}
