package main

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// copyFile copies src to dst.
func copyLocalFile(t testing.TB, src, dst string) {
	t.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(dst, b, 0o644); err != nil {
		t.Fatal(err)
	}
}

// staleWAL leaves at path a database with a WAL beside it holding rows
// the database file does not have, as a crashed writer leaves them: the
// file and its WAL are copied while a connection keeps the WAL un-checkpointed.
func staleWAL(t testing.TB, path string, extraRows int) {
	t.Helper()
	live := filepath.Join(t.TempDir(), "live.db")
	db, err := sql.Open("sqlite3", live+"?_journal_mode=WAL")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	for _, s := range []string{
		`pragma wal_autocheckpoint = 0`,
		`create table orders(id integer primary key, customer text, cents integer, placed_at text)`,
		`pragma wal_checkpoint(truncate)`,
	} {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	for i := range extraRows {
		if _, err := db.Exec(`insert into orders(customer, cents) values ('stale', ?)`, i); err != nil {
			t.Fatal(err)
		}
	}
	copyLocalFile(t, live, path)
	copyLocalFile(t, live+"-wal", path+"-wal")
	// The WAL is real: SQLite replays it into what the file shows.
	if got := sqlite3Shell(t, path, "select count(*) from orders where customer = 'stale'"); got != fmt.Sprint(extraRows) {
		t.Fatalf("the stale WAL is not replayed by sqlite3: %q", got)
	}
	copyLocalFile(t, live, path) // sqlite3 checkpointed it into the file: copy again
	copyLocalFile(t, live+"-wal", path+"-wal")
}

// sqlite3Shell runs the real sqlite3 shell on path and returns its output.
func sqlite3Shell(t testing.TB, path string, sql string) string {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 shell is needed (apt-get install sqlite3, or make test-deps)")
	}
	out, err := exec.Command(bin, path, sql).CombinedOutput()
	if err != nil {
		t.Fatalf("sqlite3 %s %q: %v\n%s", path, sql, err, out)
	}
	return strings.TrimSpace(string(out))
}

// Restoring next to a stale WAL (or journal) would let SQLite replay old
// transactions into the new file: restore refuses, and -force removes
// the side files together with the old database.
func TestRestoreRefusesStaleSideFiles(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	last := fixture.Truth(t)[len(fixture.Truth(t))-1]
	want := fmt.Sprint(last.Count)

	t.Run("database and its WAL", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "w2.db")
		staleWAL(t, out, 7)
		strata(t, "restore", "-o", out, rep).want(t, 1, out+"-wal", "-force")
		strata(t, "restore", "-force", "-o", out, rep).want(t, 0, "removed the old database's w2.db-wal")
		if _, err := os.Stat(out + "-wal"); err == nil {
			t.Fatal("the stale WAL is still there")
		}
		if got := sqlite3Shell(t, out, "select count(*) from orders"); got != want {
			t.Errorf("sqlite3 sees %s orders after restore -force, want %s", got, want)
		}
	})
	for _, side := range sideSuffixes {
		t.Run("only "+side, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "w2.db")
			if err := os.WriteFile(out+side, []byte("left over"), 0o644); err != nil {
				t.Fatal(err)
			}
			strata(t, "restore", "-o", out, rep).want(t, 1, out+side, "-force")
			if _, err := os.Stat(out); err == nil {
				t.Fatal("a refused restore wrote the database")
			}
			strata(t, "restore", "-force", "-o", out, rep).want(t, 0, "w2.db"+side)
			if _, err := os.Stat(out + side); err == nil {
				t.Fatalf("%s is still there", side)
			}
			if got := sqlite3Shell(t, out, "select count(*) from orders"); got != want {
				t.Errorf("sqlite3 sees %s orders, want %s", got, want)
			}
		})
	}
}

// restore creates a new file as sqlite3 would, 0666 less the umask, and
// keeps the mode of a file it replaces.
func TestRestoreHonoursUmask(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	for _, tt := range []struct {
		umask int
		want  os.FileMode
	}{{0o077, 0o600}, {0o022, 0o644}, {0o002, 0o664}} {
		t.Run(fmt.Sprintf("umask %03o", tt.umask), func(t *testing.T) {
			old := syscall.Umask(tt.umask)
			defer syscall.Umask(old)
			out := filepath.Join(t.TempDir(), "out.db")
			strata(t, "restore", "-o", out, rep).want(t, 0)
			if st, err := os.Stat(out); err != nil || st.Mode().Perm() != tt.want {
				t.Errorf("restored file mode %v, want %v (%v)", st.Mode().Perm(), tt.want, err)
			}
		})
	}
	t.Run("replaced file keeps its mode", func(t *testing.T) {
		out := filepath.Join(t.TempDir(), "out.db")
		if err := os.WriteFile(out, []byte("old"), 0o640); err != nil {
			t.Fatal(err)
		}
		if err := os.Chmod(out, 0o640); err != nil {
			t.Fatal(err)
		}
		strata(t, "restore", "-force", "-o", out, rep).want(t, 0)
		if st, err := os.Stat(out); err != nil || st.Mode().Perm() != 0o640 {
			t.Errorf("replaced file mode %v, want 0640 (%v)", st.Mode().Perm(), err)
		}
	})
}

// The options scripts use (a container's entrypoint restores only when
// there is something to restore and nothing restored yet) exit 0 without
// writing anything when they apply.
func TestRestoreScriptOptions(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.db")
	missing := filepath.Join(dir, "no-such-replica")
	empty := t.TempDir()

	strata(t, "restore", "-o", out, missing).want(t, 1, missing, "does not exist")
	strata(t, "restore", "-if-replica-exists", "-o", out, missing).want(t, 0, "nothing restored")
	strata(t, "restore", "-o", out, empty).want(t, 1, "exists but has no LTX files", "-if-replica-exists")
	strata(t, "restore", "-if-replica-exists", "-o", out, empty).want(t, 0, "no files yet", "nothing restored")
	noFiles(t, dir)

	strata(t, "restore", "-if-db-not-exists", "-o", out, rep).want(t, 0, "restored TXID")
	before, _ := os.ReadFile(out)
	r := strata(t, "restore", "-if-db-not-exists", "-o", out, rep)
	r.want(t, 0, "exists: nothing restored")
	if after, _ := os.ReadFile(out); string(after) != string(before) {
		t.Error("-if-db-not-exists changed the existing file")
	}
}

// -dry-run prints the plan and writes nothing.
func TestRestoreDryRun(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.db")
	plan, err := replica.New(openDirStore(t, rep)).Plan(context.Background(), replica.AtTXID(5))
	if err != nil {
		t.Fatal(err)
	}
	r := strata(t, "restore", "-dry-run", "-txid", "5", "-o", out, rep)
	r.want(t, 0)
	first := plan.Files[0]
	for _, w := range []string{"TXID 0000000000000005", out + " (new)", fmt.Sprintf("download: %d files", len(plan.Files)),
		first.MinTXID.String() + "  " + first.MaxTXID.String()} {
		if !strings.Contains(r.stdout, w) {
			t.Errorf("the plan does not say %q:\n%s", w, r.stdout)
		}
	}
	noFiles(t, dir)
	if err := os.WriteFile(out+"-wal", nil, 0o644); err != nil {
		t.Fatal(err)
	}
	r = strata(t, "restore", "-dry-run", "-o", out, rep)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "refused without -force: "+out+"-wal exists") {
		t.Errorf("the plan does not say the restore would be refused:\n%s", r.stdout)
	}
	strata(t, "restore", "-dry-run", "-f", "-o", out, rep).want(t, 2, "-dry-run")
}

// noFiles fails unless dir is empty.
func noFiles(t testing.TB, dir string) {
	t.Helper()
	entries, _ := os.ReadDir(dir)
	for _, e := range entries {
		t.Errorf("left behind: %s", filepath.Join(dir, e.Name()))
	}
}

// A restore removes the temporary files that killed restores to the same
// path left behind, and only those: not one another restore is writing
// (it holds an flock on it), not files of other names.
func TestRestoreSweepsAbandonedTempFiles(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	dir := t.TempDir()
	out := filepath.Join(dir, "out.db")
	write := func(name string) string {
		p := filepath.Join(dir, name)
		if err := os.WriteFile(p, []byte("partial"), 0o644); err != nil {
			t.Fatal(err)
		}
		return p
	}
	abandoned := write(".out.db.restore-123456")
	busy := write(".out.db.restore-777")
	f, err := os.Open(busy)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		t.Fatal(err)
	}
	others := []string{write(".out.db.restore-12x"), write(".other.db.restore-1"), write("out.db.restore-5")}

	strata(t, "restore", "-o", out, rep).want(t, 0, "removed 1 temporary file(s) left by an earlier interrupted restore: .out.db.restore-123456")
	if _, err := os.Stat(abandoned); err == nil {
		t.Error("the abandoned temporary file is still there")
	}
	for _, p := range append(others, busy) {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("%s was removed: %v", p, err)
		}
	}
}

// Where a replica URL is expected, a database file (as Litestream's
// commands take one), another file, a missing directory or a URL that
// lost a slash is an error that says so, never an empty replica.
func TestReplicaArgumentMistakes(t *testing.T) {
	dir := t.TempDir()
	db := filepath.Join(dir, "shop.db")
	sqlite3Shell(t, db, "create table t(x)")
	notes := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notes, []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	out := filepath.Join(t.TempDir(), "out.db")
	typo := filepath.Join(dir, "replca")
	for _, cmd := range [][]string{{"restore", "-o", out}, {"query"}, {"shell"}} {
		run := func(url string) []string {
			args := append(append([]string{}, cmd...), url)
			if cmd[0] == "query" {
				args = append(args, "select 1")
			}
			return args
		}
		t.Run(cmd[0], func(t *testing.T) {
			strata(t, run(db)...).want(t, 2, db+" is a file, not a replica", "replica URL is expected", "strata import")
			strata(t, run(notes)...).want(t, 2, notes+" is a file, not a replica")
			strata(t, run(typo)...).want(t, 1, typo, "does not exist")
			strata(t, run("s3:/bucket/prefix")...).want(t, 1, "two slashes")
		})
	}
	strata(t, "import", db, notes).want(t, 2, notes+" is a file, not a replica")
	strata(t, "import", dir, filepath.Join(dir, "rep")).want(t, 2, "is a directory")
}

// openDirStore opens the directory replica dir.
func openDirStore(t testing.TB, dir string) storage.Backend {
	t.Helper()
	st, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	return st
}
