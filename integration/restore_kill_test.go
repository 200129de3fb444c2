package integration

import (
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
)

// bigReplica imports a database of about 95 MB of random blobs (one
// snapshot, streamed when restored) into a directory replica, and
// returns the replica and the number of rows.
func bigReplica(t *testing.T) (string, int) {
	t.Helper()
	const rows = 24000
	dir := t.TempDir()
	src := filepath.Join(dir, "big.db")
	db, err := sql.Open("sqlite3", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(fmt.Sprintf(`pragma page_size = 4096; create table b(id integer primary key, v blob);
		with recursive s(x) as (select 1 union all select x + 1 from s where x < %d)
		insert into b(v) select randomblob(3900) from s`, rows)); err != nil {
		t.Fatal(err)
	}
	db.Close()
	// The command (built without the race detector) imports it fastest.
	strataOK(t, cliEnv(t), dir, "import", src, filepath.Join(dir, "replica"))
	if err := os.Remove(src); err != nil {
		t.Fatal(err)
	}
	return filepath.Join(dir, "replica"), rows
}

// tempPattern is the name `strata restore -o OUT` gives its temporary
// file beside OUT (os.CreateTemp's random digits).
func tempPattern(out string) *regexp.Regexp {
	return regexp.MustCompile(`^\.` + regexp.QuoteMeta(filepath.Base(out)) + `\.restore-[0-9]+$`)
}

// syncBuffer is a buffer a process writes while a test reads it.
type syncBuffer struct {
	mu sync.Mutex // guards b
	b  strings.Builder
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startRestore starts `strata restore -o out rep` and waits until its
// temporary file holds at least 8 MiB: the restore is applying pages.
func startRestore(t *testing.T, rep, out string) (*exec.Cmd, *syncBuffer) {
	t.Helper()
	cmd := exec.Command(strataBin(t), "restore", "-o", out, rep)
	cmd.Env = cliEnv(t)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stderr := &syncBuffer{}
	cmd.Stderr = stderr
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = cmd.Process.Kill(); _ = cmd.Wait() })
	pattern := tempPattern(out)
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		entries, _ := os.ReadDir(filepath.Dir(out))
		for _, e := range entries {
			if info, err := e.Info(); err == nil && pattern.MatchString(e.Name()) && info.Size() >= 8<<20 {
				return true, ""
			}
		}
		return false, fmt.Sprintf("no temporary file of 8 MiB beside %s yet (stderr: %q)", out, stderr.String())
	})
	return cmd, stderr
}

// leftovers lists the files in dir other than keep.
func leftovers(t *testing.T, dir string, keep ...string) []string {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, e := range entries {
		if !strings.Contains(strings.Join(keep, "\x00"), e.Name()) {
			out = append(out, e.Name())
		}
	}
	return out
}

// TestRestoreStopped stops restores of a large file from a directory
// replica halfway, with SIGKILL, SIGTERM and SIGINT.
func TestRestoreStopped(t *testing.T) {
	rep, rows := bigReplica(t)
	t.Run("SIGKILL", func(t *testing.T) { restoreKilled(t, rep, rows) })
	for _, sig := range []syscall.Signal{syscall.SIGTERM, syscall.SIGINT} {
		t.Run(sig.String(), func(t *testing.T) { restoreInterrupted(t, rep, sig) })
	}
}

// A restore killed with SIGKILL halfway leaves no file at OUT: the
// database is written to a temporary file beside it, renamed into place
// only once complete and verified. What it may leave is that temporary
// file, named .OUT.restore-NNN (the next restore to OUT cleans such files
// up); nothing else. A restore run again then succeeds.
func restoreKilled(t *testing.T, rep string, rows int) {
	outDir := t.TempDir()
	out := filepath.Join(outDir, "big.db")
	cmd, _ := startRestore(t, rep, out)
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = cmd.Wait()
	if _, err := os.Stat(out); !os.IsNotExist(err) {
		t.Fatalf("a killed restore left %s (stat: %v)", out, err)
	}
	left := leftovers(t, outDir)
	for _, name := range left {
		if !tempPattern(out).MatchString(name) {
			t.Errorf("a killed restore left %s, which is not its temporary file (.%s.restore-NNN)", name, filepath.Base(out))
		}
	}
	t.Logf("left after kill -9: %v", left)

	strataOK(t, cliEnv(t), outDir, "restore", "-o", out, rep)
	db, err := sql.Open("sqlite3", out)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	var ok string
	if err := db.QueryRow(`select count(*) from b`).Scan(&n); err != nil || n != rows {
		t.Errorf("restored %d rows (%v), want %d", n, err, rows)
	}
	if err := db.QueryRow(`pragma quick_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Errorf("quick_check: %s, %v", ok, err)
	}
}

// SIGTERM and SIGINT stop a restore that is applying a large file from a
// directory (whose reads never block): within a few seconds, with the
// shell's exit status for the signal (130 for SIGINT, 143 for SIGTERM)
// and a message saying it was interrupted, and nothing left behind, the
// temporary file included.
func restoreInterrupted(t *testing.T, rep string, sig syscall.Signal) {
	outDir := t.TempDir()
	out := filepath.Join(outDir, "big.db")
	cmd, stderr := startRestore(t, rep, out)
	sent := time.Now()
	if err := cmd.Process.Signal(sig); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatalf("restore still running 10 s after %s", sig)
	}
	took := time.Since(sent)
	if code, want := cmd.ProcessState.ExitCode(), 128+int(sig); code != want {
		t.Errorf("exit status %d after %s, want %d", code, sig, want)
	}
	if msg := stderr.String(); !strings.Contains(msg, "interrupted") || strings.Contains(msg, "corrupt") {
		t.Errorf("stderr %q does not say the restore was interrupted", msg)
	}
	if left := leftovers(t, outDir); len(left) != 0 {
		t.Errorf("an interrupted restore left %v", left)
	}
	t.Logf("%s: stopped %s after the signal", sig, took.Round(time.Millisecond))
}
