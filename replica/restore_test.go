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

// The Litestream 0.5 fixture restores exactly: at latest, at every state of
// its truth table by time, and at every TXID.
func TestRestoreFixture(t *testing.T) {
	states := fixture.Truth(t)
	last := states[len(states)-1]
	type tc struct {
		name   string
		target replica.Target
		want   orders
		txid   ltx.TXID
	}
	cases := []tc{{
		name: "latest", target: replica.Latest(),
		want: orders{last.Count, last.SumCents}, txid: fixture.TXID(len(states) - 1),
	}, {
		name: "TXID 1 (create table)", target: replica.AtTXID(1),
		want: orders{0, 0}, txid: 1,
	}}
	for i, s := range states {
		cases = append(cases, tc{
			name:   fmt.Sprintf("time %d (%s)", i, s.After),
			target: replica.AtTime(fixture.TimeFor(states, i)),
			want:   orders{s.Count, s.SumCents}, txid: fixture.TXID(i),
		}, tc{
			name:   fmt.Sprintf("TXID %d (%s)", fixture.TXID(i), s.After),
			target: replica.AtTXID(fixture.TXID(i)),
			want:   orders{s.Count, s.SumCents}, txid: fixture.TXID(i),
		})
	}
	r := fixtureReplica(t)
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			path, plan := restore(t, r, c.target)
			if plan.TXID != c.txid {
				t.Errorf("restored TXID %s, want %s", plan.TXID, c.txid)
			}
			if got := checkOrders(t, path); got != c.want {
				t.Errorf("count, sum(cents) = %d, %d; want %d, %d (truth.json)", got.count, got.sumCents, c.want.count, c.want.sumCents)
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
