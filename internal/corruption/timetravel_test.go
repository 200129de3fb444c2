package corruption_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxmutate"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// stepBack are the commit times of the small corpus's five TXIDs, 10 s
// apart, but for TXID 3, stamped by a clock that stepped back a minute.
func stepBack() []time.Time {
	base := time.Date(2026, 4, 1, 8, 0, 0, 0, time.UTC)
	stamps := make([]time.Time, 5)
	for i := range stamps {
		stamps[i] = base.Add(time.Duration(i) * 10 * time.Second)
	}
	stamps[2] = stamps[2].Add(-time.Minute)
	return stamps
}

// stateAt is the state a time must give: the last TXID before the first
// commit stamped after it (0: before the first commit).
func stateAt(stamps []time.Time, at time.Time) ltx.TXID {
	for i, s := range stamps {
		if s.After(at) {
			return ltx.TXID(i)
		}
	}
	return ltx.TXID(len(stamps))
}

// TestTimeTravelWithBadTimestamps asks for every moment around every
// commit, through the VFS (time= URI parameter) and by restore, of a
// replica whose clock stepped back on one commit, and of copies where one
// bit of one file's timestamp is flipped (not resealed). Each answer is
// the state whose commits are all stamped at or before the moment (by the
// true stamps), an error naming the damaged file, or "before the first
// transaction" when that is the truth.
func TestTimeTravelWithBadTimestamps(t *testing.T) {
	stamps := stepBack()
	c := buildCorpus(t, "stepped", false, stamps)
	type variant struct {
		name string
		file storage.FileInfo // damaged; zero for none
		bit  uint
	}
	variants := []variant{{name: "clock stepped back"}}
	for _, f := range c.files {
		for _, bit := range []uint{0, 11, 19, 28, 36} {
			variants = append(variants, variant{name: f.String() + " timestamp bit flipped", file: f, bit: bit})
		}
	}
	var moments []time.Time
	for _, s := range stamps {
		moments = append(moments, s.Add(-time.Millisecond), s, s.Add(time.Millisecond))
	}
	results := tally{}
	for _, v := range variants {
		dir := copyReplica(t, c)
		if v.file.MaxTXID != 0 {
			path := fileName(dir, v.file)
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, ltxmutate.Flip(b, 39-int(v.bit/8), v.bit%8), 0o644); err != nil {
				t.Fatal(err)
			}
		}
		for _, at := range moments {
			want := stateAt(stamps, at)
			ts := at.Format(time.RFC3339Nano)
			judgeAt := func(path string, err error, sum, txid string) {
				var o outcome
				switch {
				case err == nil && want != 0 && sum == c.truth[want] && txid == want.String():
					o = correct
				case err != nil && want == 0 && strings.Contains(err.Error(), replica.ErrBeforeFirst.Error()):
					o = correct
				case err != nil && v.file.MaxTXID != 0 && namesFile(err.Error(), "", v.file):
					o = named
				default:
					o = judge(err, "", storage.FileInfo{Level: -1}, false)
					t.Errorf("%s, %s at %s: TXID %s, %v; want TXID %s or an error naming the damaged file", v.name, path, ts, txid, err, want)
				}
				results.add(path+": "+strings.SplitN(v.name, " ", 2)[len(strings.SplitN(v.name, " ", 2))-1], o)
			}
			forgetLastError(t)
			sum, txid, err := queryVFS(t, dir, "time", ts)
			judgeAt("query", err, sum, txid)
			plan, sum, err := restoreAt(t, dir, at)
			judgeAt("restore", err, sum, plan.TXID.String())
		}
		os.RemoveAll(filepath.Dir(dir))
	}
	total := results.report(t)
	if total[named] == 0 {
		t.Error("no damaged timestamp was ever noticed: the test does not test anything")
	}
}

// restoreAt restores the state at a time, as `strata restore -timestamp`
// does.
func restoreAt(t testing.TB, dir string, at time.Time) (replica.Plan, string, error) {
	t.Helper()
	ctx := context.Background()
	store, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := replica.New(store)
	files, err := r.Files(ctx)
	if err != nil {
		return replica.Plan{}, "", err
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	plan, err := r.PlanAround(ctx, files, replica.AtTime(at), nil, func(p replica.Plan) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.Restore(ctx, p, f, replica.RestoreOptions{})
	})
	if err != nil {
		return plan, "", err
	}
	sum, err := digestFile(ctx, out)
	return plan, sum, err
}
