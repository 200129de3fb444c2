package integration

import (
	"fmt"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/ltxtest"
)

// The shop fixture (written by Litestream), copied to S3 in the S3 layout, read in
// place: truth.json's last state at latest, and every state by time (URI
// parameter and pragma) and by TXID.
func TestFixtureOnS3(t *testing.T) {
	states := fixture.Truth(t)
	last := len(states) - 1
	srv, bucket, prefix := fixtureOnS3(t)
	url := srv.URL(bucket, prefix)

	db := openReplica(t, url)
	if got, want := mustOrders(t, db), truthOf(states[last]); got != want {
		t.Errorf("latest: got %+v, want %+v", got, want)
	}
	if got := mustScalar[string](t, db, `pragma integrity_check`); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}

	for i, s := range states {
		at := fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)
		for _, param := range [][]string{{"time", at}, {"txid", fmt.Sprint(uint64(s.TXID))}} {
			past := openReplica(t, url, param...)
			if got := mustOrders(t, past); got != truthOf(s) {
				t.Errorf("state %d (%s) with %s=%s: got %+v, want %+v", i, s.After, param[0], param[1], got, truthOf(s))
			}
			past.Close()
		}
	}

	c, err := db.Conn(t.Context())
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	for i := last; i >= 0; i-- {
		at := fixture.TimeFor(states, i).UTC().Format(time.RFC3339Nano)
		mustScalar[string](t, c, `pragma strata_time = '`+at+`'`)
		if got := mustOrders(t, c); got != truthOf(states[i]) {
			t.Errorf("pragma strata_time = %s: got %+v, want %+v", at, got, truthOf(states[i]))
		}
	}
	mustScalar[string](t, c, `pragma strata_time = 'latest'`)
	if got := mustOrders(t, c); got != truthOf(states[last]) {
		t.Errorf("back at latest: got %+v", got)
	}
}

// A connection to an S3 replica sees new LTX files within about a poll
// interval, including a compaction that deletes level-0 files.
func TestLiveFollowingOnS3(t *testing.T) {
	srv, bucket := s3Env(t)
	w := ltxtest.NewWriter(t, srv.Store(t, bucket, "live"), filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table t(id integer primary key, v text)`)
	db := openReplica(t, srv.URL(bucket, "live"))
	if n := mustScalar[int](t, db, `select count(*) from t`); n != 0 {
		t.Fatalf("count = %d, want 0", n)
	}
	var worst time.Duration
	for i := 1; i <= 5; i++ {
		w.Exec(`insert into t(v) values (hex(randomblob(100)))`)
		if i == 3 {
			w.Compact(1, 2, 4)
			w.Delete(0, 2, 4)
		}
		worst = max(worst, eventually(t, 2*time.Second, func() (bool, string) {
			n := mustScalar[int](t, db, `select count(*) from t`)
			return n == i, fmt.Sprintf("after commit %d: count = %d", i, n)
		}))
	}
	t.Logf("new commits visible on S3 after at most %s (poll interval 100ms)", worst)
	if got := mustScalar[string](t, db, `pragma integrity_check`); got != "ok" {
		t.Errorf("integrity_check: %s", got)
	}
}
