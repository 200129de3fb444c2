package replica_test

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// TestTXIDAtFixtureStates: every state of the truth table, asked for by
// time, is found at its TXID, by TXIDAt and by PlanFiles.
func TestTXIDAtFixtureStates(t *testing.T) {
	ctx := context.Background()
	r := fixtureReplica(t)
	files := listAll(t, r)
	states := fixture.Truth(t)
	for i, s := range states {
		at := fixture.TimeFor(states, i)
		m, err := r.TXIDAt(ctx, files, at)
		if err != nil {
			t.Fatalf("state %d (%s) at %s: %v", i, s.After, at, err)
		}
		if got := m.TXID; got != s.TXID || len(m.Warnings) != 0 {
			t.Errorf("state %d (%s): TXIDAt(%s) = %s (warnings %v), want %s", i, s.After, at.UTC().Format(time.RFC3339Nano), got, m.Warnings, s.TXID)
		}
		p, err := r.PlanFiles(ctx, files, replica.AtTime(at))
		if err != nil {
			t.Fatalf("state %d: PlanFiles: %v", i, err)
		}
		checkCoverage(t, p)
		if p.TXID != s.TXID {
			t.Errorf("state %d: PlanFiles(time %s).TXID = %s, want %s", i, at, p.TXID, s.TXID)
		}
	}
}

// TestTXIDAtCommitEdges: a time equal to a file's header timestamp selects
// that TXID; one millisecond earlier selects the TXID before; a time before
// the first commit is ErrBeforeFirst.
func TestTXIDAtCommitEdges(t *testing.T) {
	ctx := context.Background()
	r := fixtureReplica(t)
	files := listAll(t, r)
	var commits []time.Time // commits[n-1] is the commit time of TXID n
	for _, f := range files {
		if f.Level != 0 {
			continue
		}
		h, err := r.ParsedHeader(ctx, f)
		if err != nil {
			t.Fatal(err)
		}
		if want := ltx.TXID(len(commits) + 1); f.MinTXID != want {
			t.Fatalf("fixture level 0: got %s, want TXID %s next", f, want)
		}
		commits = append(commits, time.UnixMilli(h.Timestamp))
	}

	for i, c := range commits {
		txid := ltx.TXID(i + 1)
		cases := []struct {
			at   time.Time
			want ltx.TXID // 0: before the first commit
		}{
			{c, txid},
			{c.Add(999 * time.Microsecond), txid}, // headers have millisecond resolution
			{c.Add(-time.Millisecond), txid - 1},
			{c.Add(-time.Nanosecond), txid - 1},
		}
		for _, tc := range cases {
			m, err := r.TXIDAt(ctx, files, tc.at)
			got := m.TXID
			if tc.want == 0 {
				if !errors.Is(err, replica.ErrBeforeFirst) {
					t.Errorf("TXIDAt(%s) = %s, %v; want ErrBeforeFirst", tc.at.UTC().Format(time.RFC3339Nano), got, err)
				}
				continue
			}
			if err != nil || got != tc.want {
				t.Errorf("TXIDAt(%s) = %s, %v; want %s (TXID %s committed at %s)",
					tc.at.UTC().Format(time.RFC3339Nano), got, err, tc.want, txid, c.UTC().Format(time.RFC3339Nano))
			}
		}
	}
}

func TestTXIDAtBeforeFirstCommit(t *testing.T) {
	ctx := context.Background()
	r := fixtureReplica(t)
	files := listAll(t, r)
	first := fixture.Truth(t)[0].Time()
	for _, at := range []time.Time{first.Add(-time.Hour), time.Unix(0, 0), first.AddDate(-1, 0, 0)} {
		_, err := r.TXIDAt(ctx, files, at)
		if !errors.Is(err, replica.ErrBeforeFirst) {
			t.Fatalf("TXIDAt(%s): %v, want ErrBeforeFirst", at, err)
		}
		stamp := at.UTC().Format(time.RFC3339Nano)
		if !strings.Contains(err.Error(), stamp) {
			t.Errorf("error %q does not name the time asked for (%s)", err, stamp)
		}
		_, err = r.PlanFiles(ctx, files, replica.AtTime(at))
		if !errors.Is(err, replica.ErrBeforeFirst) {
			t.Errorf("PlanFiles(time %s): %v, want ErrBeforeFirst", at, err)
		}
	}
}

// TestTXIDAtReadsEachHeaderOnce: finding a time reads the headers of the
// files up to it, and verifies whole the two the decision rests on; asked
// again, it reads nothing.
func TestTXIDAtReadsEachHeaderOnce(t *testing.T) {
	ctx := context.Background()
	st := &countingStore{Backend: fixtureReplica(t).Store}
	r := replica.New(st)
	files := listAll(t, r)
	states := fixture.Truth(t)
	at := fixture.TimeFor(states, 3)
	if _, err := r.TXIDAt(ctx, files, at); err != nil {
		t.Fatal(err)
	}
	// At most one header per level-0 file up to the first commit after
	// the moment, plus the files the answer rests on, read whole.
	var l0 int64
	for _, f := range files {
		if f.Level == 0 {
			l0++
		}
	}
	if n, most := st.reads.Load(), l0+2; n > most {
		t.Errorf("TXIDAt made %d reads, want at most %d", n, most)
	}
	st.reads.Store(0)
	if _, err := r.TXIDAt(ctx, files, at); err != nil {
		t.Fatal(err)
	}
	if n := st.reads.Load(); n != 0 {
		t.Errorf("TXIDAt asked again made %d reads, want none", n)
	}
}

func TestParseTXID(t *testing.T) {
	tests := []struct {
		in   string
		want uint64
		ok   bool
	}{
		{"1", 1, true},
		{"42", 42, true},
		{"0x2a", 42, true},
		{"000000000000002a", 42, true},
		{"0", 0, false},
		{"", 0, false},
		{"-3", 0, false},
		{"0x", 0, false},
		{"2a", 0, false},
		{"00000000000000zz", 0, false},
	}
	for _, tt := range tests {
		got, err := replica.ParseTXID(tt.in)
		if (err == nil) != tt.ok || uint64(got) != tt.want {
			t.Errorf("ParseTXID(%q) = %d, %v; want %d, ok=%v", tt.in, got, err, tt.want, tt.ok)
		}
		if err != nil && !strings.Contains(err.Error(), fmt.Sprintf("%q", tt.in)) {
			t.Errorf("ParseTXID(%q): error %q does not name the value", tt.in, err)
		}
	}
}
