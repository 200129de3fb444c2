package vfs_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
)

// pastReplica makes a replica whose TXID i (1..5) was committed at
// base + (i-1) minutes, base being ten minutes ago; table t has i rows at
// TXID i. Further Commits continue a minute apart.
func pastReplica(t *testing.T) (w *ltxtest.Writer, url string, base time.Time) {
	t.Helper()
	base = time.Now().Add(-10 * time.Minute).Truncate(time.Second).UTC()
	next := base
	w, url = newReplica(t, ltxtest.Clock(func() time.Time {
		at := next
		next = next.Add(time.Minute)
		return at
	}))
	w.Exec(`create table t(n); insert into t values (1)`)
	for i := 2; i <= 5; i++ {
		w.Exec(`insert into t values (?)`, i)
	}
	return w, url, base
}

// PRAGMA strata_time moves one connection in time, by absolute or relative
// time, and 'latest' brings it back to following new commits.
func TestPragmaStrataTime(t *testing.T) {
	_, url, base := pastReplica(t)
	c := conn(t, open(t, url))
	for _, tc := range []struct {
		value string
		txid  int
	}{
		{"latest", 5},
		{"8 minutes 30 seconds ago", 2},
		{base.Add(150 * time.Second).Format(time.RFC3339), 3},
		{base.Add(3 * time.Minute).Format("2006-01-02 15:04:05"), 4}, // the commit's own second
		{base.Add(3*time.Minute - time.Millisecond).Format(time.RFC3339Nano), 3},
		{"1h30m ago", -1},
		{"5 minutes ago", 5},
		{"1 second ago", 5},
		{"10 minutes ago", 1},
		{"LATEST", 5},
	} {
		t.Run(tc.value, func(t *testing.T) {
			_, err := tryScalar[string](c, fmt.Sprintf(`pragma strata_time = '%s'`, tc.value))
			if tc.txid < 0 {
				if err == nil || !strings.Contains(err.Error(), "before the first transaction") {
					t.Fatalf("err = %v, want 'before the first transaction'", err)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if n := scalar[int](t, c, `select count(*) from t`); n != tc.txid {
				t.Errorf("%d rows, want %d (the state of TXID %d)", n, tc.txid, tc.txid)
			}
			if got, want := scalar[string](t, c, `pragma strata_txid`), fmt.Sprintf("%016x", tc.txid); got != want {
				t.Errorf("strata_txid = %s, want %s", got, want)
			}
		})
	}
}

// strata_time reads back what the connection looks at: 'latest', or the
// requested moment in RFC 3339 (a relative time resolved when it was set).
func TestPragmaStrataTimeReadsBack(t *testing.T) {
	_, url, base := pastReplica(t)
	c := conn(t, open(t, url))
	if got := scalar[string](t, c, `pragma strata_time`); got != "latest" {
		t.Errorf("strata_time = %q, want latest", got)
	}
	at := base.Add(90 * time.Second)
	if got := scalar[string](t, c, `pragma strata_time = '`+at.Format(time.RFC3339)+`'`); got != at.Format(time.RFC3339Nano) {
		t.Errorf("setting strata_time returned %q, want %q", got, at.Format(time.RFC3339Nano))
	}
	if got := scalar[string](t, c, `pragma strata_time`); got != at.Format(time.RFC3339Nano) {
		t.Errorf("strata_time = %q, want %q", got, at.Format(time.RFC3339Nano))
	}
	before := time.Now()
	scalar[string](t, c, `pragma strata_time = '2 minutes ago'`)
	got, err := time.Parse(time.RFC3339Nano, scalar[string](t, c, `pragma strata_time`))
	if err != nil {
		t.Fatal(err)
	}
	if want := before.Add(-2 * time.Minute); got.Before(want.Add(-time.Second)) || got.After(want.Add(time.Second)) {
		t.Errorf("'2 minutes ago' read back as %s, want about %s", got, want)
	}
}

// While a connection looks at the past it does not move, however many
// commits arrive; back at 'latest' it follows them again.
func TestPastConnectionIgnoresUpdates(t *testing.T) {
	w, url, _ := pastReplica(t)
	db := open(t, url)
	past := conn(t, db)
	scalar[string](t, past, `pragma strata_time = '8 minutes 30 seconds ago'`)
	if n := scalar[int](t, past, `select count(*) from t`); n != 2 {
		t.Fatalf("%d rows in the past, want 2", n)
	}
	w.Exec(`insert into t values (6)`)
	eventually(t, 2*time.Second, func() (bool, string) {
		n := scalar[int](t, db, `select count(*) from t`)
		return n == 6, fmt.Sprintf("live connection: %d rows, want 6", n)
	})
	if n := scalar[int](t, past, `select count(*) from t`); n != 2 {
		t.Errorf("the past connection moved to %d rows", n)
	}
	scalar[string](t, past, `pragma strata_time = 'latest'`)
	if n := scalar[int](t, past, `select count(*) from t`); n != 6 {
		t.Errorf("back at latest: %d rows, want 6", n)
	}
	w.Exec(`insert into t values (7)`)
	eventually(t, 2*time.Second, func() (bool, string) {
		n := scalar[int](t, past, `select count(*) from t`)
		return n == 7, fmt.Sprintf("back at latest, after a commit: %d rows, want 7", n)
	})
}

// Bad pragma values give an SQL error that names the value, and leave the
// connection where it was.
func TestPragmaErrors(t *testing.T) {
	_, url, _ := pastReplica(t)
	c := conn(t, open(t, url))
	scalar[string](t, c, `pragma strata_time = '9 minutes ago'`) // TXID 2
	for _, tc := range []struct{ sql, want string }{
		{`pragma strata_time = 'garbage'`, `"garbage"`},
		{`pragma strata_time = '5 parsecs ago'`, `"5 parsecs ago"`},
		{`pragma strata_time = '-5 minutes ago'`, `"-5 minutes ago"`},
		{`pragma strata_time = ''`, "empty time"},
		{`pragma strata_time = '2026-13-45T99:00:00Z'`, `"2026-13-45T99:00:00Z"`},
		{`pragma strata_time = '1 hour ago'`, "before the first transaction"},
		{`pragma strata_time = '1999-01-01'`, "before the first transaction"},
		{`pragma strata_txid = 'x'`, "read-only"},
		{`pragma strata_txid = 3`, "read-only"},
		{`pragma strata_lag = 0`, "read-only"},
	} {
		t.Run(tc.sql, func(t *testing.T) {
			_, err := tryScalar[string](c, tc.sql)
			if err == nil || !strings.Contains(err.Error(), tc.want) {
				t.Fatalf("err = %v, want an error mentioning %s", err, tc.want)
			}
			if n := scalar[int](t, c, `select count(*) from t`); n != 2 {
				t.Errorf("after the error the connection shows %d rows, want 2 (unchanged)", n)
			}
		})
	}
}

// strata_lag is the age of the last successful poll in seconds: it grows
// while no poll happens and drops back when one succeeds.
func TestPragmaStrataLag(t *testing.T) {
	_, url, _ := pastReplica(t)
	c := conn(t, open(t, url, "poll_interval", neverPoll))
	first := lagOf(t, c)
	const idle = 250 * time.Millisecond
	time.Sleep(idle)
	if got := lagOf(t, c); got < first+idle.Seconds() {
		t.Errorf("strata_lag = %.3f s after %s without a poll, was %.3f s", got, idle, first)
	}
	pollNow(t, url)
	if got := lagOf(t, c); got >= idle.Seconds() {
		t.Errorf("strata_lag = %.3f s right after a poll, want under %s", got, idle)
	}
}

// A poller that cannot advance (a level-0 file missing, nothing covering
// it) reports the failure and lets strata_lag grow: the lag used to be
// reset by every poll that merely listed, hiding a reader stuck forever.
// Once the gap is filled it catches up and the lag drops.
func TestLagGrowsWhilePollsCannotAdvance(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 10)                                           // 2
	db := open(t, url, "poll_interval", neverPoll)
	sameAsLocal(t, w, db)

	missing := w.Exec(`insert into t(v) values ('three')`) // 3
	fill(t, w, 10)                                         // 4
	held := filepath.Join(t.TempDir(), "held.ltx")
	if err := os.Rename(ltxPath(url, missing), held); err != nil {
		t.Fatal(err)
	}

	const stall = 300 * time.Millisecond
	time.Sleep(stall)
	if err := strata.PollNow(url); err == nil {
		t.Errorf("a poll that cannot advance past the gap reported no error")
	}
	first := lagOf(t, db)
	if first < stall.Seconds() {
		t.Errorf("strata_lag = %.3f s after a stalled poll, want at least %.3f s", first, stall.Seconds())
	}
	time.Sleep(50 * time.Millisecond)
	_ = strata.PollNow(url)
	if second := lagOf(t, db); second <= first {
		t.Errorf("strata_lag did not grow while stalled: %.3f s, then %.3f s", first, second)
	}
	if got := txidOf(t, db); got != 2 {
		t.Fatalf("TXID %s while the gap lasts, want 2", got)
	}

	if err := os.Rename(held, ltxPath(url, missing)); err != nil {
		t.Fatal(err)
	}
	pollNow(t, url)
	if got := txidOf(t, db); got != 4 {
		t.Fatalf("TXID %s after the gap was filled, want 4", got)
	}
	sameAsLocal(t, w, db)
	if lag := lagOf(t, db); lag >= stall.Seconds() {
		t.Errorf("strata_lag = %.3f s after a poll that caught up", lag)
	}
}
