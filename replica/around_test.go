package replica_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// rowsChain writes a replica where TXID 1 creates table t and TXID n > 1
// inserts row n, compacting TXIDs 1-6 into one level-1 file when
// compacted is set. The state at TXID n holds n-1 rows.
func rowsChain(t testing.TB, commits int, compacted bool) string {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"))
	w.Exec(`create table t(n integer primary key)`)
	for n := 2; n <= commits; n++ {
		w.Exec(`insert into t(n) values (?)`, n)
	}
	if compacted {
		w.Compact(1, 1, 6)
	}
	return filepath.Join(dir, "replica")
}

// junk stores bytes that are no LTX file under the name of one.
func junk(t testing.TB, dir string, level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	t.Helper()
	f := storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
	put(t, dir, f, []byte(strings.Repeat("not an LTX file ", 40)))
	return f
}

// damageBody flips a byte of the first page frame's data of a file: its
// header stays valid, its checksum does not.
func damageBody(t testing.TB, dir string, level int, minTXID, maxTXID ltx.TXID) {
	t.Helper()
	path := filepath.Join(dir, "ltx", map[int]string{0: "0", 1: "1"}[level], ltx.FormatFilename(minTXID, maxTXID))
	mutate(t, path, func(b []byte) []byte {
		b[ltx.HeaderSize+ltx.PageHeaderSize+4+3] ^= 0x5a
		return b
	})
}

// restoreAround restores the latest state with PlanAround and returns the
// plan, the rows of the restored table, and the error.
func restoreAround(t testing.TB, dir string) (replica.Plan, int64, error) {
	t.Helper()
	ctx := context.Background()
	r := openDir(t, dir)
	out := filepath.Join(t.TempDir(), "out.db")
	plan, err := r.PlanAround(ctx, listAll(t, r), replica.Latest(), nil, func(p replica.Plan) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.Restore(ctx, p, f, replica.RestoreOptions{})
	})
	if err != nil {
		return plan, 0, err
	}
	var rows int64
	if err := openDB(t, out).QueryRow(`select count(*) from t`).Scan(&rows); err != nil {
		t.Fatal(err)
	}
	return plan, rows, nil
}

// One junk file named like an LTX file does not make a restore fail when
// another chain of files reaches the same state: the plan goes around it,
// and says so. When the corrupt file is the only way to the newest TXID
// (junk or damaged, they look the same), the restore fails naming it: it
// never falls back to an older state on its own.
func TestPlanAroundCorruptFiles(t *testing.T) {
	tests := []struct {
		name      string
		compacted bool
		damage    func(t testing.TB, dir string) storage.FileInfo
		want      ltx.TXID // 0: an error naming the damaged file
	}{
		{"junk named as the next commit", false, func(t testing.TB, dir string) storage.FileInfo {
			return junk(t, dir, 0, 9, 9)
		}, 0},
		{"junk past a gap", false, func(t testing.TB, dir string) storage.FileInfo {
			return junk(t, dir, 0, 20, 20)
		}, 0},
		{"junk named as a compacted file over the chain", false, func(t testing.TB, dir string) storage.FileInfo {
			return junk(t, dir, 2, 1, 7)
		}, 8},
		{"junk named as a snapshot", false, func(t testing.TB, dir string) storage.FileInfo {
			return junk(t, dir, storage.SnapshotLevel, 1, 8)
		}, 8},
		{"compacted file damaged, level 0 intact", true, func(t testing.TB, dir string) storage.FileInfo {
			damageBody(t, dir, 1, 1, 6)
			return storage.FileInfo{Level: 1, MinTXID: 1, MaxTXID: 6}
		}, 8},
		{"newest commit damaged, no other copy", false, func(t testing.TB, dir string) storage.FileInfo {
			damageBody(t, dir, 0, 8, 8)
			return storage.FileInfo{Level: 0, MinTXID: 8, MaxTXID: 8}
		}, 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := rowsChain(t, 8, tt.compacted)
			bad := tt.damage(t, dir)
			plan, rows, err := restoreAround(t, dir)
			if tt.want == 0 {
				var ce *replica.CorruptError
				if !errors.As(err, &ce) || ce.File.Key() != bad.Key() {
					t.Fatalf("restore: TXID %s, %d rows, %v; want an error naming %s", plan.TXID, rows, err, bad)
				}
				if !errors.Is(err, replica.ErrUnreachable) {
					t.Errorf("error %q does not say that the state is unreachable", err)
				}
				t.Logf("error: %v", err)
				return
			}
			if err != nil {
				t.Fatalf("restore: %v", err)
			}
			if plan.TXID != tt.want || rows != int64(tt.want)-1 {
				t.Errorf("restored TXID %s with %d rows, want TXID %s with %d", plan.TXID, rows, tt.want, tt.want-1)
			}
			var ce *replica.CorruptError
			if len(plan.Warnings) != 1 || !errors.As(plan.Warnings[0], &ce) || ce.File.Key() != bad.Key() {
				t.Errorf("warnings %v, want one *CorruptError naming %s", plan.Warnings, bad)
			}
			for _, f := range plan.Files {
				if f.Key() == bad.Key() {
					t.Errorf("the plan still holds %s", bad)
				}
			}
		})
	}
}

// PlanAround keeps the files it left out in the BadFiles it is given,
// so that a later plan goes around them without reading them again.
func TestPlanAroundRemembers(t *testing.T) {
	dir := rowsChain(t, 8, false)
	bad := junk(t, dir, 2, 1, 7)
	r := openDir(t, dir)
	files := listAll(t, r)
	set := replica.NewBadFiles(0, 0)
	index := func(p replica.Plan) error {
		for _, f := range p.Files {
			if _, err := r.Index(context.Background(), f); err != nil {
				return err
			}
		}
		return nil
	}
	if _, err := r.PlanAround(context.Background(), files, replica.Latest(), set, index); err != nil {
		t.Fatal(err)
	}
	bad = fileAt(t, files, bad.Level, bad.MinTXID, bad.MaxTXID)
	if !set.Contains(bad) {
		t.Fatalf("the junk file %s is not remembered", bad)
	}
	plan, err := r.PlanAround(context.Background(), files, replica.Latest(), set, index)
	if err != nil || len(plan.Warnings) != 0 || plan.TXID != 8 {
		t.Errorf("second plan: TXID %s, warnings %v, %v; want TXID 8 without warnings", plan.TXID, plan.Warnings, err)
	}
}
