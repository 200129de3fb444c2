package vfs_test

import (
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// orders is what truth.json records of the fixture's database.
type orders struct{ count, sum int64 }

func ordersOf(t testing.TB, q querier) orders {
	t.Helper()
	var o orders
	if err := q.QueryRowContext(context.Background(), `select count(*), sum(cents) from orders`).Scan(&o.count, &o.sum); err != nil {
		t.Fatalf("select from orders: %v (last open error: %v)", err, strata.LastOpenError())
	}
	return o
}

func truthOf(s fixture.State) orders { return orders{s.Count, s.Sum} }

// The shop fixture (written by Litestream: snapshots, levels 1 and 2,
// level 0), read in place from its directory, gives truth.json's last
// state at latest and every earlier state when asked for its time or its
// TXID, by URI parameter or by pragma; at every state, every row of every
// table is the one the writer wrote (the checksum of truth.json).
func TestFixtureInPlace(t *testing.T) {
	shop := fixture.Load(t, fixture.Shop)
	states, tables := shop.Truth.States, shop.Truth.Tables
	dir := shop.Replica()
	last := len(states) - 1

	for _, url := range []string{dir, "file://" + dir} {
		t.Run("latest/"+url, func(t *testing.T) {
			db := open(t, url)
			if got, want := ordersOf(t, db), truthOf(states[last]); got != want {
				t.Errorf("latest: got %+v, want %+v", got, want)
			}
			checkIntegrity(t, db)
			if got, want := scalar[string](t, db, `pragma strata_txid`), states[last].TXID.String(); got != want {
				t.Errorf("strata_txid = %s, want %s", got, want)
			}
			if got := scalar[string](t, db, `pragma strata_time`); got != "latest" {
				t.Errorf("strata_time = %q, want latest", got)
			}
		})
	}

	t.Run("URI time and txid", func(t *testing.T) {
		for i, s := range states {
			at := fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)
			for _, param := range [][]string{{"time", at}, {"txid", fmt.Sprint(uint64(s.TXID))}} {
				db := open(t, dir, param...)
				if got := ordersOf(t, db); got != truthOf(s) {
					t.Errorf("state %d (%s) with %s=%s: got %+v, want %+v", i, s.After, param[0], param[1], got, truthOf(s))
				}
				if got, want := scalar[string](t, db, `pragma strata_txid`), s.TXID.String(); got != want {
					t.Errorf("state %d with %s=%s: strata_txid = %s, want %s", i, param[0], param[1], got, want)
				}
				if got, err := fixture.Checksum(db, tables); err != nil || got != s.SHA256 {
					t.Errorf("state %d (%s) with %s=%s: checksum %s, %v; want %s", i, s.After, param[0], param[1], got, err, s.SHA256)
				}
				db.Close()
			}
		}
	})

	t.Run("PRAGMA strata_time", func(t *testing.T) {
		c := conn(t, open(t, dir))
		// Newest first and back, so that every switch moves the state.
		for _, i := range append(descending(len(states)), 0, last, 3) {
			at := fixture.TimeFor(states, i).UTC()
			got := scalar[string](t, c, fmt.Sprintf(`pragma strata_time = '%s'`, at.Format(time.RFC3339Nano)))
			if want := at.Format(time.RFC3339Nano); got != want {
				t.Errorf("pragma strata_time = %s returned %q, want %q", want, got, want)
			}
			if got := ordersOf(t, c); got != truthOf(states[i]) {
				t.Errorf("state %d (%s) at %s: got %+v, want %+v", i, states[i].After, at, got, truthOf(states[i]))
			}
			if got, want := scalar[string](t, c, `pragma strata_txid`), states[i].TXID.String(); got != want {
				t.Errorf("state %d: strata_txid = %s, want %s", i, got, want)
			}
		}
		checkIntegrity(t, c)
		scalar[string](t, c, `pragma strata_time = 'latest'`)
		if got := ordersOf(t, c); got != truthOf(states[last]) {
			t.Errorf("back at latest: got %+v, want %+v", got, truthOf(states[last]))
		}
	})
}

func descending(n int) []int {
	out := make([]int, n)
	for i := range out {
		out[i] = n - 1 - i
	}
	return out
}
