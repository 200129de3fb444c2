package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// execIn runs `strata exec` on rep with its write buffer in buffer.
func execIn(t testing.TB, buffer, rep string, sql ...string) result {
	t.Helper()
	return strata(t, append([]string{"exec", "-buffer", buffer, rep}, sql...)...)
}

// lsTXIDs lists the max TXIDs of rep's level-0 files.
func lsTXIDs(t testing.TB, rep string) []string {
	t.Helper()
	var ids []string
	for _, e := range lsEntries(t, rep) {
		if e.Level == 0 {
			ids = append(ids, e.MaxTXID)
		}
	}
	return ids
}

// exec runs all its SQL arguments as one transaction, on a replica it
// creates if the directory does not exist yet, and prints what each
// writing statement changed, the rows of statements that return some, and
// the TXID that holds the result.
func TestExecOneTransactionAndReport(t *testing.T) {
	dir := t.TempDir()
	rep, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "buffer")
	r := execIn(t, buffer, rep,
		`create table t(id integer primary key, v integer)`,
		`insert into t(v) values (1), (2), (3); -- three rows`,
		`update t set v = v * 10 where id > 1 returning id, v; delete from t where id = 99`)
	r.want(t, 0)
	want := `done: create table t(id integer primary key, v integer)
3 rows changed: insert into t(v) values (1), (2), (3)
2|20
3|30
2 rows changed: update t set v = v * 10 where id > 1 returning id, v
0 rows changed: delete from t where id = 99
stored TXID 0000000000000001
`
	if r.stdout != want {
		t.Errorf("stdout:\n%s\nwant:\n%s", r.stdout, want)
	}
	if got := lsTXIDs(t, rep); len(got) != 1 {
		t.Errorf("level 0 holds %v: every statement should be in the one TXID", got)
	}

	// Reading SQL stores nothing and says nothing about TXIDs.
	r = execIn(t, buffer, rep, `select sum(v) from t`)
	r.want(t, 0)
	if r.stdout != "51\n" {
		t.Errorf("select: stdout %q, want 51", r.stdout)
	}
	// A write that changes nothing says so.
	r = execIn(t, buffer, rep, `update t set v = v where 0`)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "nothing changed: the replica stays at TXID 0000000000000001") {
		t.Errorf("empty update: stdout %q", r.stdout)
	}
	if got := lsTXIDs(t, rep); len(got) != 1 {
		t.Errorf("level 0 holds %v after SQL that changed nothing", got)
	}
}

// A statement that fails rolls back everything exec ran before it: the
// replica does not move, and the command exits 1 with SQLite's message.
func TestExecFailureRollsBackEverything(t *testing.T) {
	dir := t.TempDir()
	rep, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "buffer")
	execIn(t, buffer, rep, `create table t(id integer primary key, v integer not null)`).want(t, 0)
	r := execIn(t, buffer, rep, `insert into t(v) values (1)`, `insert into t(v) values (null)`)
	r.want(t, 1, "NOT NULL constraint failed")
	if got := lsTXIDs(t, rep); len(got) != 1 {
		t.Errorf("level 0 holds %v: the failed run stored something", got)
	}
	if r := strata(t, "query", rep, `select count(*) from t`); r.stdout != "0\n" {
		t.Errorf("after the failed run: %q rows, want 0", r.stdout)
	}
}

// SQL with its own transactions keeps them: each BEGIN ... COMMIT is its
// own TXID, statements outside them share one; a BEGIN left open is
// rolled back and the command fails.
func TestExecOwnTransactions(t *testing.T) {
	dir := t.TempDir()
	rep, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "buffer")
	r := execIn(t, buffer, rep, `create table t(v); insert into t values (0);
		begin; insert into t values (1); commit;
		begin immediate; insert into t values (2); insert into t values (3); end;
		savepoint s; insert into t values (4); rollback to s; insert into t values (6); release s;
		insert into t values (5)`)
	r.want(t, 0)
	// TXID 1: create + insert 0; 2: insert 1; 3: inserts 2, 3; 4: the
	// savepoint's transaction (4 rolled back, 6 kept); 5: insert 5.
	if got := lsTXIDs(t, rep); len(got) != 5 || got[4] != "0000000000000005" {
		t.Errorf("level 0 holds %v, want TXIDs 1 to 5", got)
	}
	if r := strata(t, "query", rep, `select group_concat(v) from (select v from t order by v)`); r.stdout != "0,1,2,3,5,6\n" {
		t.Errorf("rows %q, want 0,1,2,3,5,6", r.stdout)
	}
	r = execIn(t, buffer, rep, `begin; insert into t values (6)`)
	r.want(t, 1, "BEGIN without COMMIT", "rolled back")
	if got := lsTXIDs(t, rep); len(got) != 5 {
		t.Errorf("level 0 holds %v after a BEGIN left open", got)
	}
}

// -sync DURATION (group commit): the commits of the run are stored
// together, before the command exits, as one TXID.
func TestExecGroupCommit(t *testing.T) {
	dir := t.TempDir()
	rep, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "buffer")
	execIn(t, buffer, rep, `create table t(v)`).want(t, 0)
	r := strata(t, "exec", "-sync", "1h", "-buffer", buffer, rep,
		`begin; insert into t values (1); commit; begin; insert into t values (2); commit`)
	r.want(t, 0)
	if !strings.HasSuffix(r.stdout, "stored TXID 0000000000000002\n") {
		t.Errorf("stdout %q, want the two commits stored as TXID 2", r.stdout)
	}
	if got := lsTXIDs(t, rep); len(got) != 2 {
		t.Errorf("level 0 holds %v, want 2 files", got)
	}
	if _, err := os.Stat(filepath.Join(buffer, "pending.log")); err != nil {
		t.Errorf("group commit left no write buffer in -buffer %s: %v", buffer, err)
	}
}

// How exec is called wrong: exit 2 with what is wrong.
func TestExecUsageErrors(t *testing.T) {
	dir := t.TempDir()
	strata(t, "exec").want(t, 2, "at least 2 arguments")
	strata(t, "exec", dir).want(t, 2, "at least 2 arguments")
	strata(t, "exec", "-sync", "sometimes", dir, "select 1").want(t, 2, `sync="sometimes"`)
	strata(t, "shell", "-sync", "1s", dir).want(t, 2, "need -write")
	strata(t, "shell", "-write", "-txid", "3", dir).want(t, 2, "latest state")
	file := filepath.Join(dir, "x.db")
	if err := os.WriteFile(file, []byte("not a replica"), 0o644); err != nil {
		t.Fatal(err)
	}
	strata(t, "exec", file, "select 1").want(t, 2, "is a file, not a replica")
}

// query and a shell without -write refuse writes and say how to write;
// shell -write commits each statement as the next TXID and stores what
// group commit holds before it ends.
func TestShellWriteAndReadOnlyHint(t *testing.T) {
	dir := t.TempDir()
	rep, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "buffer")
	execIn(t, buffer, rep, `create table t(v)`).want(t, 0)
	strata(t, "query", rep, `insert into t values (1)`).want(t, 1, "strata exec")
	shellRun(t, "insert into t values (1);\n", rep).want(t, 1, "strata shell -write")

	r := shellRun(t, "insert into t values (1);\nbegin;\ninsert into t values (2);\ninsert into t values (3);\ncommit;\nselect count(*) from t;\n",
		"-write", "-sync", "1h", "-buffer", buffer, rep)
	r.want(t, 0)
	if r.stdout != "3\n" {
		t.Errorf("shell -write: stdout %q, want 3", r.stdout)
	}
	if got := lsTXIDs(t, rep); len(got) != 2 {
		t.Errorf("level 0 holds %v, want the shell's two commits stored together as TXID 2", got)
	}
	if r := strata(t, "query", rep, `select sum(v) from t`); r.stdout != "6\n" {
		t.Errorf("after the shell: sum %q, want 6", r.stdout)
	}
}

// firstKeyword finds what a statement is behind blanks and comments.
func TestFirstKeyword(t *testing.T) {
	for sql, want := range map[string]string{
		"begin":                       "BEGIN",
		"  -- note\n /* c */ Commit;": "COMMIT",
		"/* unterminated":             "",
		"-- only a comment":           "",
		"create trigger x after insert on t begin select 1; end": "CREATE",
		"WITH c AS (SELECT 1) INSERT INTO t SELECT * FROM c":     "WITH",
		"savepoint a":                      "SAVEPOINT",
		" -- note\n;\n update t set v = 1": "UPDATE",
	} {
		if got := firstKeyword(sql); got != want {
			t.Errorf("firstKeyword(%q) = %q, want %q", sql, got, want)
		}
	}
}

// Statements SQLite runs outside a transaction (PRAGMA, VACUUM, ATTACH)
// run outside exec's: page_size before the first write sets the new
// database's page size, VACUUM works, and another replica can be
// attached and read from.
func TestExecStatementsOutsideTheTransaction(t *testing.T) {
	dir := t.TempDir()
	rep, other, buffer := filepath.Join(dir, "replica"), filepath.Join(dir, "other"), filepath.Join(dir, "buffer")
	execIn(t, buffer, other, `create table src(v); insert into src values (1), (2), (3)`).want(t, 0)
	r := execIn(t, buffer, rep, `pragma page_size = 1024; create table t(v); insert into t values (0)`,
		`attach 'file:o.db?vfs=strata&replica=`+other+`' as o; insert into t select v from o.src; detach o`,
		`delete from t where v = 0; vacuum`)
	r.want(t, 0)
	for _, want := range []string{"3 rows changed: insert into t select v from o.src", "done: vacuum"} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("stdout %q does not report %q", r.stdout, want)
		}
	}
	if r := strata(t, "query", rep, `select group_concat(v), (select page_size from pragma_page_size) from t`); r.stdout != "1,2,3|1024\n" {
		t.Errorf("replica: %q, want rows 1,2,3 in 1024-byte pages", r.stdout)
	}
}
