package replica_test

import (
	"context"
	"fmt"
	"os"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// The Litestream fixtures restore exactly: at latest, at every state of
// their truth by time, and at every TXID. The shop fixture's plans mix
// snapshots, compacted files of levels 1 and 2 and level-0 files; the
// regrow fixture's grow past 4096 pages, shrink and grow again.
func TestRestoreFixture(t *testing.T) {
	for _, name := range []string{fixture.Shop, fixture.Regrow} {
		t.Run(name, func(t *testing.T) {
			testRestoreFixture(t, fixture.Load(t, name))
		})
	}
}

func testRestoreFixture(t *testing.T, f fixture.Fixture) {
	states := f.Truth.States
	type tc struct {
		name   string
		target replica.Target
		want   fixture.State // zero: TXID 1, the schema alone
		txid   ltx.TXID
	}
	cases := []tc{
		{name: "latest", target: replica.Latest(), want: f.Last(), txid: f.Last().TXID},
		{name: "TXID 1 (the schema)", target: replica.AtTXID(1), txid: 1},
	}
	for i, s := range states {
		cases = append(cases, tc{
			name:   fmt.Sprintf("time %d (%s)", i, s.After),
			target: replica.AtTime(fixture.TimeFor(states, i)),
			want:   s, txid: s.TXID,
		}, tc{
			name:   fmt.Sprintf("TXID %d (%s)", s.TXID, s.After),
			target: replica.AtTXID(s.TXID),
			want:   s, txid: s.TXID,
		})
	}
	r := openDir(t, f.Replica())
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, plan := restore(t, r, c.target)
			if plan.TXID != c.txid {
				t.Errorf("restored TXID %s, want %s", plan.TXID, c.txid)
			}
			got := measure(t, path, f.Truth)
			if got.Count != c.want.Count || got.Sum != c.want.Sum {
				t.Errorf("%s = %d, %d; want %d, %d (truth.json)", f.Truth.Check, got.Count, got.Sum, c.want.Count, c.want.Sum)
			}
			if c.want.SHA256 != "" && (got.SHA256 != c.want.SHA256 || got.Pages != c.want.Pages) {
				t.Errorf("restored %d pages with checksum %s; truth.json says %d pages, %s", got.Pages, got.SHA256, c.want.Pages, c.want.SHA256)
			}
		})
	}
}

// TestRestoreFixtureCost records what a restore of the fixture at latest
// costs in storage requests and time, and bounds the requests: one listing
// per level and one read per planned file.
func TestRestoreFixtureCost(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{Backend: fixtureReplica(t).Store}
	r := replica.New(st)
	start := time.Now()
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	out, err := os.Create(t.TempDir() + "/out.db")
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := r.Restore(ctx, plan, out, replica.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	elapsed := time.Since(start)
	t.Logf("restore of the fixture at latest (TXID %s, %d files): %d list + %d read requests in %s",
		plan.TXID, len(plan.Files), st.lists.Load(), st.reads.Load(), elapsed)
	if n := st.lists.Load(); n != 10 {
		t.Errorf("%d list requests, want 10 (levels 0..9)", n)
	}
	if n, want := st.reads.Load(), int64(len(plan.Files)); n != want {
		t.Errorf("%d read requests, want %d (one per planned file)", n, want)
	}
}

// Restoring with a target that was planned elsewhere: an empty plan is an
// error, not an empty database.
func TestRestoreEmptyPlan(t *testing.T) {
	r := fixtureReplica(t)
	if _, err := restoreFile(t, r, replica.Plan{}); err == nil {
		t.Fatal("Restore of an empty plan succeeded")
	}
}
