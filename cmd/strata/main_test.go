package main

import (
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// result is what one run of the command gave.
type result struct {
	code           int
	stdout, stderr string
}

// strata runs the command in-process, as `strata args...`.
func strata(t testing.TB, args ...string) result {
	t.Helper()
	var stdout, stderr bytes.Buffer
	code := run(context.Background(), args, &stdout, &stderr)
	return result{code, stdout.String(), stderr.String()}
}

// want fails the test unless r exited with code and its stderr holds each
// of mention.
func (r result) want(t testing.TB, code int, mention ...string) {
	t.Helper()
	if r.code != code {
		t.Fatalf("exit code %d, want %d\nstdout: %s\nstderr: %s", r.code, code, r.stdout, r.stderr)
	}
	for _, m := range mention {
		if !strings.Contains(r.stderr, m) {
			t.Errorf("stderr does not mention %q:\n%s", m, r.stderr)
		}
	}
}

func TestUsage(t *testing.T) {
	tests := []struct {
		args    []string
		code    int
		mention []string
	}{
		{nil, 2, []string{"Usage: strata", "restore", "import", "ls"}},
		{[]string{"-h"}, 0, []string{"Usage: strata"}},
		{[]string{"--help"}, 0, []string{"Usage: strata"}},
		{[]string{"help"}, 0, []string{"Usage: strata"}},
		{[]string{"frobnicate"}, 2, []string{`unknown command "frobnicate"`, "Usage: strata"}},
		{[]string{"restore", "-h"}, 0, []string{"Usage: strata restore", "-txid", "-timestamp", "-o", "-force", "-f", "-follow-interval", "-if-db-not-exists", "-if-replica-exists", "-dry-run"}},
		{[]string{"query", "-h"}, 0, []string{"Usage: strata query", "-json", "-csv", "-table", "-box", "-line", "-list", "-header", "-wait"}},
		{[]string{"shell", "-h"}, 0, []string{"Usage: strata shell", "-json", "-csv", "-header", "-wait"}},
		{[]string{"version", "extra"}, 2, []string{"expected 0 argument"}},
		{[]string{"import", "-h"}, 0, []string{"Usage: strata import DB URL"}},
		{[]string{"ls", "-h"}, 0, []string{"Usage: strata ls", "-json"}},
		{[]string{"ls"}, 2, []string{"expected 1 argument"}},
		{[]string{"ls", "a", "b"}, 2, []string{"expected 1 argument"}},
		{[]string{"import", "only-one"}, 2, []string{"expected 2 argument"}},
		{[]string{"ls", "-bogus", "x"}, 2, []string{"-bogus"}},
	}
	for _, tt := range tests {
		t.Run(strings.Join(tt.args, " "), func(t *testing.T) {
			strata(t, tt.args...).want(t, tt.code, tt.mention...)
		})
	}
}

func TestRestoreUsageErrors(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	out := filepath.Join(t.TempDir(), "out.db")
	tests := []struct {
		name    string
		args    []string
		mention []string
	}{
		{"no -o", []string{"restore", rep}, []string{"-o OUT.db is required"}},
		{"no URL", []string{"restore", "-o", out}, []string{"expected 1 argument"}},
		{"bad -txid", []string{"restore", "-txid", "12abc", "-o", out, rep}, []string{`"12abc"`}},
		{"zero -txid", []string{"restore", "-txid", "0", "-o", out, rep}, []string{`"0"`}},
		{"bad -timestamp", []string{"restore", "-timestamp", "yesterday noon", "-o", out, rep}, []string{`"yesterday noon"`, "RFC 3339"}},
		{"-txid and -timestamp", []string{"restore", "-txid", "3", "-timestamp", "2026-11-24T22:14:30Z", "-o", out, rep}, []string{"cannot be used together"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			strata(t, tt.args...).want(t, 2, tt.mention...)
			if _, err := os.Stat(out); err == nil {
				t.Errorf("a usage error left %s behind", out)
			}
		})
	}
}

// countSum opens a restored shop database: count(*) and sum(cents) of its
// orders, after an integrity check.
func countSum(t testing.TB, path string) (count, sum int64) {
	t.Helper()
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`pragma integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		t.Fatalf("%s: integrity_check = %q, %v", path, ok, err)
	}
	var s sql.NullInt64
	if err := db.QueryRow(`select count(*), sum(cents) from orders`).Scan(&count, &s); err != nil {
		t.Fatal(err)
	}
	return count, s.Int64
}

// TestRestoreFixture restores the Litestream fixture at latest, by TXID in
// each accepted notation, and by time.
func TestRestoreFixture(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	states := fixture.Truth(t)
	last := states[len(states)-1]
	tests := []struct {
		name  string
		flags []string
		state fixture.State
	}{
		{"latest", nil, last},
		{"-txid decimal", []string{"-txid", "5"}, states[3]},
		{"-txid 0x hex", []string{"-txid", "0xa"}, states[8]},
		{"-txid 16 hex digits", []string{"-txid", "0000000000000002"}, states[0]},
		{"-timestamp", []string{"-timestamp", fixture.TimeFor(states, 4).UTC().Format(time.RFC3339Nano)}, states[4]},
		{"-timestamp with an offset", []string{"-timestamp", fixture.TimeFor(states, 6).In(time.FixedZone("", -5*3600)).Format(time.RFC3339Nano)}, states[6]},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			out := filepath.Join(t.TempDir(), "shop.db")
			args := append(append([]string{"restore"}, tt.flags...), "-o", out, rep)
			strata(t, args...).want(t, 0, "restored TXID")
			if c, s := countSum(t, out); c != tt.state.Count || s != tt.state.Sum {
				t.Errorf("restored count, sum = %d, %d; want %d, %d (%s)", c, s, tt.state.Count, tt.state.Sum, tt.state.After)
			}
		})
	}
}

func TestRestoreRefusesToOverwrite(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	out := filepath.Join(t.TempDir(), "exists.db")
	if err := os.WriteFile(out, []byte("precious"), 0o644); err != nil {
		t.Fatal(err)
	}
	strata(t, "restore", "-o", out, rep).want(t, 1, out, "-force")
	if b, _ := os.ReadFile(out); string(b) != "precious" {
		t.Fatalf("refused restore changed %s", out)
	}
	strata(t, "restore", "-force", "-o", out, rep).want(t, 0)
	last := fixture.Truth(t)[len(fixture.Truth(t))-1]
	if c, s := countSum(t, out); c != last.Count || s != last.Sum {
		t.Errorf("restored count, sum = %d, %d; want %d, %d", c, s, last.Count, last.Sum)
	}
}

func TestRestoreFailures(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	first := fixture.Truth(t)[0].Time().Add(-time.Hour)
	tests := []struct {
		name    string
		args    []string
		mention []string
	}{
		{"time before the first commit", []string{"-timestamp", first.UTC().Format(time.RFC3339), rep}, []string{"before the first"}},
		{"TXID past the end", []string{"-txid", "99", rep}, []string{"0000000000000063"}},
		{"empty replica", []string{t.TempDir()}, []string{"empty"}},
		{"unsupported URL", []string{"ftp://host/x"}, []string{`"ftp"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			out := filepath.Join(dir, "out.db")
			args := append([]string{"restore", "-o", out}, tt.args...)
			strata(t, args...).want(t, 1, tt.mention...)
			if entries, _ := os.ReadDir(dir); len(entries) != 0 {
				t.Errorf("a failed restore left files behind: %v", entries)
			}
		})
	}
}

// createShop writes a small database in WAL mode, like the fixture's.
func createShop(t testing.TB, rows int) string {
	t.Helper()
	path := filepath.Join(t.TempDir(), "shop.db")
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	stmts := []string{
		`pragma journal_mode = wal`,
		`create table orders(id integer primary key, customer text, cents integer, placed_at text)`,
		`create index orders_customer on orders(customer)`,
	}
	for i := 1; i <= rows; i++ {
		stmts = append(stmts, fmt.Sprintf(`insert into orders(customer, cents, placed_at) values ('c%d', %d, '2026-11-24')`, i%17, i*3))
	}
	for _, s := range stmts {
		if _, err := db.Exec(s); err != nil {
			t.Fatalf("%s: %v", s, err)
		}
	}
	return path
}

// TestImportLsRestore: import, then ls, then restore gives the database
// back; a second import into the same replica is refused.
func TestImportLsRestore(t *testing.T) {
	src := createShop(t, 500)
	rep := filepath.Join(t.TempDir(), "replica")
	url := "file://" + filepath.ToSlash(rep)

	strata(t, "import", src, url).want(t, 0, "imported", src)

	entries := lsEntries(t, url)
	if len(entries) != 1 || entries[0].Level != 9 || entries[0].MinTXID != "0000000000000001" || entries[0].MaxTXID != "0000000000000001" {
		t.Fatalf("after import ls -json = %+v, want one snapshot L9 [1-1]", entries)
	}

	out := filepath.Join(t.TempDir(), "restored.db")
	strata(t, "restore", "-o", out, url).want(t, 0)
	wantCount, wantSum := countSum(t, src)
	if c, s := countSum(t, out); c != wantCount || s != wantSum || c != 500 {
		t.Errorf("restored count, sum = %d, %d; the source has %d, %d", c, s, wantCount, wantSum)
	}

	strata(t, "import", src, url).want(t, 1, "not empty")
}

func TestImportFailures(t *testing.T) {
	dir := t.TempDir()
	notDB := filepath.Join(dir, "notes.txt")
	if err := os.WriteFile(notDB, bytes.Repeat([]byte("plain text\n"), 500), 0o644); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name    string
		db      string
		mention []string
	}{
		{"not a SQLite database", notDB, []string{notDB}},
		{"no such file", filepath.Join(dir, "nope.db"), []string{filepath.Join(dir, "nope.db")}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			rep := t.TempDir()
			strata(t, "import", tt.db, rep).want(t, 1, tt.mention...)
			if entries := lsEntries(t, rep); len(entries) != 0 {
				t.Errorf("a failed import left files in the replica: %+v", entries)
			}
		})
	}
}
