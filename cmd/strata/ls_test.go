package main

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
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
	files, err := fixture.ListFiles(rep)
	if err != nil {
		t.Fatal(err)
	}
	// What the listing must say, from the files themselves.
	var wantLevels []lsLevel
	var infos []storage.FileInfo
	for _, f := range files {
		st, err := os.Stat(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		infos = append(infos, storage.FileInfo{Level: f.Level, MinTXID: f.MinTXID, MaxTXID: f.MaxTXID, Size: st.Size()})
		if n := len(wantLevels); n == 0 || wantLevels[n-1].Level != f.Level {
			wantLevels = append(wantLevels, lsLevel{Level: f.Level, MinTXID: f.MinTXID.String()})
		}
		l := &wantLevels[len(wantLevels)-1]
		l.Files++
		l.MaxTXID = max(l.MaxTXID, f.MaxTXID.String())
		l.Size += st.Size()
	}
	plan, err := replica.BuildPlan(infos, 0)
	if err != nil {
		t.Fatal(err)
	}
	states := fixture.Truth(t)
	last := states[len(states)-1]

	out := lsJSON(t, rep)
	if len(out.Levels) != len(wantLevels) {
		t.Fatalf("levels %+v, want %+v", out.Levels, wantLevels)
	}
	for i, l := range out.Levels {
		if l != wantLevels[i] {
			t.Errorf("level %+v, want %+v", l, wantLevels[i])
		}
	}
	if out.Latest == nil || out.Latest.TXID != last.TXID.String() || out.Latest.Files != len(plan.Files) {
		t.Errorf("latest %+v, want TXID %s from %d files", out.Latest, last.TXID, len(plan.Files))
	}
	if len(out.Files) != len(files) {
		t.Fatalf("ls -json listed %d files, the fixture has %d", len(out.Files), len(files))
	}
	for i, e := range out.Files {
		f := files[i]
		h, err := fixture.ReadHeader(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		if e.Level != f.Level || e.MinTXID != f.MinTXID.String() || e.MaxTXID != f.MaxTXID.String() || e.Size != infos[i].Size ||
			e.PageSize != h.PageSize || e.Commit != h.Commit || !e.Time.Equal(time.UnixMilli(h.Timestamp)) || e.Error != "" {
			t.Errorf("entry %d = %+v; the fixture has %s: %d bytes, %d-byte pages, commit %d, time %s",
				i, e, f, infos[i].Size, h.PageSize, h.Commit, time.UnixMilli(h.Timestamp).UTC())
		}
		if e.Pages < 1 || e.Pages > int(e.Commit) {
			t.Errorf("entry %d (%s): %d pages, want 1 to %d", i, f, e.Pages, e.Commit)
		}
		if e.Level == 0 && e.MaxTXID == last.TXID.String() {
			if d := e.Time.Sub(last.Time()); d < -time.Second || d > time.Second {
				t.Errorf("L0 file of TXID %s committed at %s, truth.json says about %s", last.TXID, e.Time, last.Time())
			}
		}
	}

	plain := strata(t, "ls", rep)
	plain.want(t, 0)
	summary, listed, ok := strings.Cut(strings.TrimSpace(plain.stdout), "\n\n")
	if !ok {
		t.Fatalf("ls: no blank line between the summary and the files:\n%s", plain.stdout)
	}
	lines := strings.Split(summary, "\n")
	wantLatest := fmt.Sprintf("latest: TXID %s, a restore reads %d files", last.TXID, len(plan.Files))
	if len(lines) != len(wantLevels)+2 || !strings.HasPrefix(lines[0], "LEVEL") || !strings.HasPrefix(lines[len(lines)-1], wantLatest) {
		t.Errorf("ls summary: want a header, %d levels and %q:\n%s", len(wantLevels), wantLatest, summary)
	}
	if lines := strings.Split(listed, "\n"); len(lines) != len(files)+1 || !strings.HasPrefix(lines[0], "LEVEL") {
		t.Errorf("ls printed %d lines of files, want a header and %d files:\n%s", len(lines), len(files), listed)
	}

	// -s: the summary alone, from the listing.
	s := strata(t, "ls", "-s", rep)
	s.want(t, 0)
	if s.stdout != summary+"\n" {
		t.Errorf("ls -s:\n%s\nwant the summary of ls:\n%s", s.stdout, summary)
	}
	if out := lsJSON(t, "-s", rep); out.Files != nil || len(out.Levels) != len(wantLevels) {
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
	files, err := fixture.ListFiles(rep)
	if err != nil {
		t.Fatal(err)
	}
	level0 := 0
	for _, f := range files {
		if f.Level == 0 {
			level0++
		}
	}
	r := strata(t, "ls", rep)
	r.want(t, 0, fmt.Sprintf("1 of %d files are not valid LTX files", len(files)))
	if !strings.Contains(r.stdout, "0000000000000004  0000000000000004") || !strings.Contains(r.stdout, "NOT AN LTX FILE") {
		t.Errorf("the junk file is not marked:\n%s", r.stdout)
	}
	_, listed, _ := strings.Cut(r.stdout, "\n\n")
	if n := strings.Count(listed, "\n0  "); n != level0 {
		t.Errorf("%d level-0 rows, want all %d:\n%s", n, level0, r.stdout)
	}
	out := lsJSON(t, rep)
	var bad []string
	for _, e := range out.Files {
		if e.Error != "" {
			bad = append(bad, e.MinTXID)
		}
	}
	if len(out.Files) != len(files) || len(bad) != 1 || bad[0] != "0000000000000004" {
		t.Errorf("ls -json: %d files, marked %v; want %d files and TXID 4 marked", len(out.Files), bad, len(files))
	}
}

// A database file where a replica URL belongs is refused with what to do.
func TestLsOfADatabaseFile(t *testing.T) {
	db := createShop(t, 3)
	for _, url := range []string{db, "file://" + filepath.ToSlash(db)} {
		strata(t, "ls", url).want(t, 2, "is a file, not a replica", "expected a replica URL", "strata import")
	}
}
