package integration

import (
	"database/sql"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// `strata exec` and `strata shell -write` as processes, on both backends:
// what a user sees when another writer stores a TXID first. The losing
// COMMIT fails with SQLITE_BUSY and a message naming the conflict and
// both TXIDs; nothing of it is stored; running it again succeeds.
func TestWriteCLIConflicts(t *testing.T) {
	writeBackends(t, func(t *testing.T, b writeBackend) {
		// Neither process polls: each sees only the state it opened.
		env := append(b.env, "STRATA_POLL_INTERVAL=1h", "STRATA_LOG_LEVEL=info")
		strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "create table t(v)")

		t.Run("shell", func(t *testing.T) {
			sh := startStrata(t, env, "", "shell", "-write", "-buffer", t.TempDir(), b.url)
			sh.stdin.Write([]byte("begin;\ninsert into t values ('shell');\nselect 'in a transaction';\n"))
			waitMinute(t, func() (bool, string) {
				return strings.Contains(sh.stdout.String(), "in a transaction"), "the shell never began: " + sh.stderr.String()
			})
			// Another writer commits meanwhile.
			strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "insert into t values ('other')")
			sh.stdin.Write([]byte("commit;\n"))
			sh.stdin.Close()
			if code := sh.wait(t); code != 1 {
				t.Fatalf("shell: exit %d, want 1\nstderr: %s", code, sh.stderr)
			}
			for _, want := range []string{"database is locked", "write conflict", "began on TXID 0000000000000001", "stored TXID 0000000000000002", "retry"} {
				if !strings.Contains(sh.stderr.String(), want) {
					t.Errorf("the shell's error does not mention %q: %s", want, sh.stderr)
				}
			}
		})

		t.Run("exec", func(t *testing.T) {
			// exec waits at an ATTACH of an empty replica (wait=1m) after it
			// opened its replica; the other writer commits; then the gate
			// opens and exec commits on the state it opened.
			gate := filepath.Join(t.TempDir(), "gate")
			x := startStrata(t, env, "", "exec", "-buffer", t.TempDir(), b.url,
				"attach 'file:gate.db?vfs=strata&replica="+gate+"&wait=1m&poll_interval=20ms' as gate",
				"insert into t values ('exec')")
			waitMinute(t, func() (bool, string) {
				return strings.Contains(x.stderr.String(), "opened replica"), "exec never opened the replica: " + x.stderr.String()
			})
			strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "insert into t values ('other 2')")
			openGate(t, gate)
			if code := x.wait(t); code != 1 {
				t.Fatalf("exec: exit %d, want 1\nstdout: %s\nstderr: %s", code, x.stdout, x.stderr)
			}
			for _, want := range []string{"write conflict (SQLITE_BUSY)", "rolled back", "run the command again", "stored TXID 0000000000000003"} {
				if !strings.Contains(x.stderr.String(), want) {
					t.Errorf("exec's error does not mention %q: %s", want, x.stderr)
				}
			}
			// Run again, it succeeds on top of the other writer's commit.
			r := strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "insert into t values ('exec')")
			if !strings.Contains(r.stdout, "stored TXID 0000000000000004") {
				t.Errorf("the retry: %s", r)
			}
		})

		r := strataOK(t, b.env, "", "query", b.url, "select group_concat(v, ',') from (select v from t order by rowid)")
		if r.stdout != "other,other 2,exec\n" {
			t.Errorf("the replica holds %q: want the two other commits and exec's retry, not the conflicting commits", r.stdout)
		}
	})
}

// waitMinute waits up to a minute for cond.
func waitMinute(t *testing.T, cond func() (bool, string)) {
	t.Helper()
	eventually(t, time.Minute, cond)
}

// openGate gives the empty replica dir its first file.
func openGate(t *testing.T, dir string) {
	t.Helper()
	src := filepath.Join(t.TempDir(), "gate.db")
	db, err := sql.Open("sqlite3", src)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := db.Exec(`create table g(x)`); err != nil {
		t.Fatal(err)
	}
	db.Close()
	strataOK(t, cliEnv(t), "", "import", src, dir)
}
