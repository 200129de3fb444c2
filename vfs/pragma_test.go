package vfs_test

import (
	"fmt"
	"strconv"
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

// strata_lag is the age of the last successful poll in seconds: a small
// number right after opening, and it stays small while polls succeed.
func TestPragmaStrataLag(t *testing.T) {
	_, url, _ := pastReplica(t)
	c := conn(t, open(t, url))
	for range 3 {
		lag, err := strconv.ParseFloat(scalar[string](t, c, `pragma strata_lag`), 64)
		if err != nil {
			t.Fatal(err)
		}
		if lag < 0 || lag > 2 {
			t.Errorf("strata_lag = %g, want between 0 and 2 seconds with a 100ms poll", lag)
		}
		time.Sleep(150 * time.Millisecond)
	}
}
