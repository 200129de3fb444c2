package integration

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/superfly/ltx"
)

// A database that grows past 4096 pages (4,417 pages of 512 bytes),
// shrinks to 71 by VACUUM and grows to 4,152 again, read by `strata query`
// at every state by TXID and by time, and at latest: each gives the
// truth's count, sum and checksum of every row.
func TestRegrowFixture(t *testing.T) {
	f := fixture.Load(t, fixture.Regrow)
	states := f.Truth.States
	env := cliEnv(t)
	rows := `select quote(id) || ',' || quote(n) || ',' || quote(v) from t order by rowid`
	check := func(t *testing.T, s fixture.State, flags ...string) {
		t.Helper()
		args := append(append([]string{"query"}, flags...), f.Replica(), f.Truth.Check)
		r := strataOK(t, env, "", args...)
		if want := fmt.Sprintf("%d|%d\n", s.Count, s.Sum); r.stdout != want {
			t.Errorf("%s: want %q: %s", f.Truth.Check, want, r)
		}
		args = append(append([]string{"query"}, flags...), f.Replica(), rows)
		r = strataOK(t, env, "", args...)
		h := sha256.New()
		h.Write([]byte("table t\n" + r.stdout))
		if got := hex.EncodeToString(h.Sum(nil)); got != s.SHA256 {
			t.Errorf("rows have checksum %s, truth.json says %s (%d lines)", got, s.SHA256, strings.Count(r.stdout, "\n"))
		}
	}
	for i, s := range states {
		t.Run(fmt.Sprintf("TXID %s (%s, %d pages)", s.TXID, s.After, s.Pages), func(t *testing.T) {
			check(t, s, "-txid", s.TXID.String())
			check(t, s, "-timestamp", fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano))
		})
	}
	t.Run("latest", func(t *testing.T) { check(t, f.Last()) })
}

// The same history seen by a connection that follows the replica: the
// level-0 files after the first state appear one poll at a time, then all
// at once in a fresh copy (one batch that shrinks and regrows).
func TestRegrowFixtureFollowing(t *testing.T) {
	f := fixture.Load(t, fixture.Regrow)
	states := f.Truth.States
	count := func(t *testing.T, db querier, s fixture.State) {
		t.Helper()
		eventually(t, 10*time.Second, func() (bool, string) {
			var n, sum int64
			err := db.QueryRowContext(t.Context(), f.Truth.Check).Scan(&n, &sum)
			return err == nil && n == s.Count && sum == s.Sum, fmt.Sprintf("%s = %d, %d (%v); want %d, %d after %s",
				f.Truth.Check, n, sum, err, s.Count, s.Sum, s.After)
		})
	}
	publish := func(t *testing.T, dir string, removed map[string][]byte, s fixture.State) {
		t.Helper()
		name := ltx.FormatFilename(s.TXID, s.TXID)
		extPublish(t, dir, 0, name, removed[name])
	}
	t.Run("one file per poll", func(t *testing.T) {
		dir := f.Copy(t)
		removed := extTruncate(t, dir, states[0].TXID)
		db := openReplica(t, dir)
		count(t, db, states[0])
		for _, s := range states[1:] {
			publish(t, dir, removed, s)
			count(t, db, s)
		}
	})
	t.Run("all files in one poll", func(t *testing.T) {
		dir := f.Copy(t)
		removed := extTruncate(t, dir, states[0].TXID)
		db := openReplica(t, dir, "poll_interval", "1s")
		count(t, db, states[0])
		for _, s := range states[1:] {
			publish(t, dir, removed, s)
		}
		count(t, db, f.Last())
	})
}
