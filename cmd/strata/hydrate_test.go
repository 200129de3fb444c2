package main

import (
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
)

// query -hydrate keeps a local copy of the replica: each run restores it
// in the background (or resumes, or catches up), and once it is complete
// the file is the database, which plain sqlite3 reads.
func TestQueryHydrate(t *testing.T) {
	src := createShop(t, 3000)
	rep := filepath.Join(t.TempDir(), "replica")
	strata(t, "import", src, rep).want(t, 0)
	path := filepath.Join(t.TempDir(), "local", "shop.db")

	r := strata(t, "query", "-hydrate", path, rep, "select count(*) from orders")
	r.want(t, 0)
	if r.stdout != "3000\n" {
		t.Errorf("query -hydrate printed %q, want 3000", r.stdout)
	}
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		r := strata(t, "query", "-hydrate", path, rep, "pragma strata_hydration")
		return r.code == 0 && strings.Contains(r.stdout, `"state":"complete"`), "strata_hydration: " + r.stdout + r.stderr
	})
	want := sqlite3Out(t, src, "select count(*), sum(cents) from orders")
	if got := sqlite3Out(t, path, "-readonly", "select count(*), sum(cents) from orders"); got != want {
		t.Errorf("sqlite3 on the hydrated file: %q, want %q", got, want)
	}
	if got := sqlite3Out(t, path, "-readonly", "pragma integrity_check"); got != "ok\n" {
		t.Errorf("integrity_check of the hydrated file: %q", got)
	}
}

// A path that holds another file is refused, and the file left alone.
func TestQueryHydrateRefusesAForeignFile(t *testing.T) {
	src := createShop(t, 10)
	rep := filepath.Join(t.TempDir(), "replica")
	strata(t, "import", src, rep).want(t, 0)
	strata(t, "query", "-hydrate", src, rep, "select 1").want(t, 1, src, "not a hydrated file of strata")
	if got := sqlite3Out(t, src, "select count(*) from orders"); got != "10\n" {
		t.Errorf("the foreign database changed: count %q", got)
	}
}
