package main

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage/filestore"
)

func fileNames(t testing.TB, rep string) []string {
	t.Helper()
	var names []string
	err := filepath.Walk(rep, func(path string, info os.FileInfo, err error) error {
		if err == nil && !info.IsDir() {
			rel, _ := filepath.Rel(rep, path)
			names = append(names, rel)
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return names
}

// levelZeroReplica writes a replica shaped like a young Litestream one:
// level-0 files for TXIDs 1 to 10 (TXID 1 the schema), and TXID 1
// compacted to level 1 and snapshotted to level 9. It returns the replica
// directory and the orders' count and sum at TXID 10.
func levelZeroReplica(t testing.TB) (rep string, count, sum int64) {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	// Committed two hours ago, a second apart: every level's interval has
	// ended since, so one pass takes them all in.
	at := time.Now().Add(-2 * time.Hour).Truncate(time.Hour)
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"), ltxtest.Clock(func() time.Time {
		at = at.Add(time.Second)
		return at
	}))
	w.Exec(`create table orders(id integer primary key, customer text, cents integer, placed_at text)`)
	w.Compact(1, 1, 1)
	w.Compact(9, 1, 1)
	for i := 1; i <= 9; i++ {
		w.Exec(`insert into orders(customer, cents, placed_at) values (?, ?, '2026-11-24')`, fmt.Sprintf("c%d", i), i*100)
	}
	return store.Dir(), 9, 4500
}

// One pass over a replica holding level-0 files: level 0 is merged into
// level 1, level 1 into 2 and 2 into 3, a snapshot is written, level 0 is
// pruned; every line says what it did; the replica restores as before; a
// second pass has nothing to do.
func TestCompactOnePass(t *testing.T) {
	rep, count, sum := levelZeroReplica(t)
	// The copy's files are new: level 0 may go as soon as it is compacted.
	r := strata(t, "compact", "-l0-retention", "1ms", rep)
	r.want(t, 0, "took")
	for _, want := range []string{
		"merged      L0 0000000000000002-000000000000000a (9 files",
		"into L1/0000000000000002-000000000000000a.ltx",
		"into L2/0000000000000001-000000000000000a.ltx",
		"into L3/0000000000000001-000000000000000a.ltx",
		"into snapshot L9/0000000000000001-000000000000000a.ltx",
		"deleted     L0/0000000000000009-0000000000000009.ltx",
	} {
		if !strings.Contains(r.stdout, want) {
			t.Errorf("compact output lacks %q:\n%s", want, r.stdout)
		}
	}
	out := filepath.Join(t.TempDir(), "out.db")
	strata(t, "restore", "-o", out, rep).want(t, 0)
	if c, s := countSum(t, out); c != count || s != sum {
		t.Errorf("after compaction: %d orders, %d cents; want %d, %d", c, s, count, sum)
	}
	again := strata(t, "compact", rep)
	again.want(t, 0)
	if again.stdout != "nothing to do\n" {
		t.Errorf("second pass:\n%s", again.stdout)
	}
}

// -dry-run prints what a pass would do with "would" and changes nothing.
func TestCompactDryRun(t *testing.T) {
	rep, _, _ := levelZeroReplica(t)
	before := fileNames(t, rep)
	r := strata(t, "compact", "-dry-run", "-l0-retention", "1ms", rep)
	r.want(t, 0)
	if !strings.Contains(r.stdout, "would merge L0 0000000000000002-000000000000000a") || !strings.Contains(r.stdout, "would delete L0/") {
		t.Errorf("dry run output:\n%s", r.stdout)
	}
	if after := fileNames(t, rep); !slices.Equal(before, after) {
		t.Errorf("dry run changed the replica: %v -> %v", before, after)
	}
}

// snapshot writes the latest state to level 9; asked again, it says the
// snapshot exists.
func TestSnapshotCommand(t *testing.T) {
	rep, _, _ := levelZeroReplica(t)
	r := strata(t, "snapshot", rep)
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "wrote snapshot L9/0000000000000001-000000000000000a.ltx") {
		t.Errorf("snapshot: %s", r.stdout)
	}
	r = strata(t, "snapshot", rep)
	r.want(t, 0)
	if !strings.HasPrefix(r.stdout, "snapshot of TXID 000000000000000a exists already") {
		t.Errorf("second snapshot: %s", r.stdout)
	}
	strata(t, "snapshot", t.TempDir()).want(t, 1, "empty")
}

func TestCompactUsageErrors(t *testing.T) {
	rep := fixture.CopyReplica(t)
	db := createShop(t, 2)
	for _, c := range []struct {
		args    []string
		mention string
	}{
		{[]string{"compact"}, "expected 1 argument"},
		{[]string{"compact", "-watch", "-dry-run", rep}, "cannot be used together"},
		{[]string{"compact", "-levels", "30s,0s", rep}, "-levels"},
		{[]string{"compact", "-levels", "often", rep}, `"often"`},
		{[]string{"compact", db}, "is a file, not a replica"},
		{[]string{"snapshot", db}, "is a file, not a replica"},
		{[]string{"snapshot"}, "expected 1 argument"},
	} {
		strata(t, c.args...).want(t, 2, c.mention)
	}
	t.Setenv("STRATA_COMPACT_LEVELS", "1s,soon")
	strata(t, "compact", rep).want(t, 2, "STRATA_COMPACT_LEVELS")
	strata(t, "compact", "-h").want(t, 2, "STRATA_COMPACT_LEVELS")
}

// -watch compacts on schedule and stops, successfully, when its context
// ends (the command's ends at SIGINT or SIGTERM).
func TestCompactWatch(t *testing.T) {
	rep := fixture.CopyReplica(t)
	ctx, cancel := context.WithCancel(context.Background())
	var stdout, stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"compact", "-watch", "-levels", "100ms,200ms,400ms", rep}, &stdout, &stderr)
	}()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(stdout.String(), "into snapshot L9/"), stdout.String()
	})
	cancel()
	select {
	case code := <-done:
		if code != 0 {
			t.Errorf("exit %d after the interrupt: %s", code, stderr.String())
		}
	case <-time.After(10 * time.Second):
		t.Fatal("compact -watch did not stop when interrupted")
	}
	if !strings.Contains(stderr.String(), "compacting file://") {
		t.Errorf("stderr: %s", stderr.String())
	}
}
