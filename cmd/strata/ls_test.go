package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// lsJSON runs `strata ls -json` and decodes its output.
func lsJSON(t testing.TB, args ...string) lsOutput {
	t.Helper()
	r := strata(t, append([]string{"ls", "-json"}, args...)...)
	r.want(t, 0)
	var out lsOutput
	if err := json.Unmarshal([]byte(r.stdout), &out); err != nil {
		t.Fatalf("ls -json output is not one JSON object: %v\n%s", err, r.stdout)
	}
	return out
}

// lsEntries runs `strata ls -json` and returns its files.
func lsEntries(t testing.TB, url string) []lsEntry {
	t.Helper()
	return lsJSON(t, url).Files
}

// ls shows each level (file count, TXID range, bytes), the latest state
// and what restoring it reads, then every file with what its header and
// index say; -json says the same as one object.
func TestLsFixture(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	out := lsJSON(t, rep)
	wantLevels := []lsLevel{
		{0, 10, "0000000000000001", "000000000000000a", 74649},
		{1, 1, "0000000000000001", "0000000000000001", 634},
		{9, 1, "0000000000000001", "0000000000000001", 634},
	}
	if len(out.Levels) != len(wantLevels) {
		t.Fatalf("levels %+v, want %+v", out.Levels, wantLevels)
	}
	for i, l := range out.Levels {
		if l != wantLevels[i] {
			t.Errorf("level %+v, want %+v", l, wantLevels[i])
		}
	}
	if out.Latest == nil || out.Latest.TXID != "000000000000000a" || out.Latest.Files != 10 {
		t.Errorf("latest %+v, want TXID 10 from 10 files", out.Latest)
	}
	entries := out.Files
	if len(entries) != 12 {
		t.Fatalf("ls -json listed %d files, want 12 (10 at level 0, 1 at level 1, 1 at level 9)", len(entries))
	}
	last := entries[9]
	if last.Level != 0 || last.MinTXID != "000000000000000a" || last.MaxTXID != "000000000000000a" ||
		last.Size != 29924 || last.PageSize != 4096 || last.Commit != 22 || last.Pages != 18 || last.Error != "" {
		t.Errorf("L0 file 10: %+v", last)
	}
	states := fixture.Truth(t)
	if d := last.Time.Sub(states[len(states)-1].Time()); d < -time.Second || d > time.Second {
		t.Errorf("L0 file 10 committed at %s, truth.json says about %s", last.Time, states[len(states)-1].Time())
	}
	if entries[10].Level != 1 || entries[11].Level != 9 {
		t.Errorf("levels not in order: %d, %d", entries[10].Level, entries[11].Level)
	}

	plain := strata(t, "ls", rep)
	plain.want(t, 0)
	summary, files, ok := strings.Cut(strings.TrimSpace(plain.stdout), "\n\n")
	if !ok {
		t.Fatalf("ls: no blank line between the summary and the files:\n%s", plain.stdout)
	}
	lines := strings.Split(summary, "\n")
	if len(lines) != 5 || !strings.HasPrefix(lines[0], "LEVEL") || !strings.HasPrefix(lines[4], "latest: TXID 000000000000000a, a restore reads 10 files") {
		t.Errorf("ls summary: want a header, 3 levels and the latest state:\n%s", summary)
	}
	if !strings.Contains(lines[1], "72.9 KiB") {
		t.Errorf("level 0 line: %q, want its size", lines[1])
	}
	if lines := strings.Split(files, "\n"); len(lines) != 13 || !strings.HasPrefix(lines[0], "LEVEL") {
		t.Errorf("ls printed %d lines of files, want a header and 12 files:\n%s", len(lines), files)
	}

	// -s: the summary alone, from the listing.
	s := strata(t, "ls", "-s", rep)
	s.want(t, 0)
	if s.stdout != summary+"\n" {
		t.Errorf("ls -s:\n%s\nwant the summary of ls:\n%s", s.stdout, summary)
	}
	if out := lsJSON(t, "-s", rep); out.Files != nil || len(out.Levels) != 3 {
		t.Errorf("ls -s -json: %+v, want the levels and no files", out)
	}
}

func TestLsEmpty(t *testing.T) {
	out := lsJSON(t, t.TempDir())
	if len(out.Files) != 0 || len(out.Levels) != 0 || out.Latest != nil {
		t.Errorf("ls -json of an empty replica = %+v", out)
	}
	r := strata(t, "ls", t.TempDir())
	r.want(t, 0)
	if !strings.Contains(r.stdout, "no files") {
		t.Errorf("ls of an empty replica:\n%s", r.stdout)
	}
}

// A junk file named like an LTX file does not make ls fail: the other
// files are listed, the junk is marked, and stderr says so.
func TestLsMarksAJunkFile(t *testing.T) {
	rep := fixture.CopyReplica(t)
	name := filepath.Join(rep, "ltx", "0", "0000000000000004-0000000000000004.ltx")
	if err := os.WriteFile(name, []byte("not an LTX file, but long enough to have a header and a trailer, they say...................."), 0o644); err != nil {
		t.Fatal(err)
	}
	r := strata(t, "ls", rep)
	r.want(t, 0, "1 of 12 files are not valid LTX files")
	if !strings.Contains(r.stdout, "0000000000000004  0000000000000004") || !strings.Contains(r.stdout, "NOT AN LTX FILE") {
		t.Errorf("the junk file is not marked:\n%s", r.stdout)
	}
	_, files, _ := strings.Cut(r.stdout, "\n\n")
	if n := strings.Count(files, "\n0  "); n != 10 {
		t.Errorf("%d level-0 rows, want all 10:\n%s", n, r.stdout)
	}
	out := lsJSON(t, rep)
	var bad []string
	for _, e := range out.Files {
		if e.Error != "" {
			bad = append(bad, e.MinTXID)
		}
	}
	if len(out.Files) != 12 || len(bad) != 1 || bad[0] != "0000000000000004" {
		t.Errorf("ls -json: %d files, marked %v; want 12 files and TXID 4 marked", len(out.Files), bad)
	}
}

// A database file where a replica URL belongs is refused with what to do.
func TestLsOfADatabaseFile(t *testing.T) {
	db := createShop(t, 3)
	for _, url := range []string{db, "file://" + filepath.ToSlash(db)} {
		strata(t, "ls", url).want(t, 2, "is a file, not a replica", "expected a replica URL", "strata import")
	}
}
