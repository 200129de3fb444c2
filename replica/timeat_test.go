package replica_test

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// base is when the replicas of these tests start committing.
var base = time.Date(2026, 3, 1, 12, 0, 0, 0, time.UTC)

// stampedReplica writes a replica whose TXID n (1-based) is stamped
// stamps[n-1]: TXID 1 creates table t, TXID n > 1 inserts the row n, so
// the state at TXID n holds n-1 rows. It returns the replica's directory.
func stampedReplica(t testing.TB, stamps []time.Time) string {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	next := 0
	clock := func() time.Time { next++; return stamps[next-1] }
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"), ltxtest.Clock(clock))
	w.Exec(`create table t(n integer primary key)`)
	for n := 2; n <= len(stamps); n++ {
		w.Exec(`insert into t(n) values (?)`, n)
	}
	return filepath.Join(dir, "replica")
}

// stateAt is what "the database as of ts" must be: the last TXID before
// the first commit stamped after ts (0: before the first commit), so that
// no commit stamped after ts is in it.
func stateAt(stamps []time.Time, ts time.Time) ltx.TXID {
	for i, s := range stamps {
		if s.After(ts) {
			return ltx.TXID(i)
		}
	}
	return ltx.TXID(len(stamps))
}

// probes are the moments worth asking for: each stamp, a millisecond
// either side, before all and after all.
func probes(stamps []time.Time) []time.Time {
	out := []time.Time{base.Add(-time.Hour), base.Add(time.Hour)}
	for _, s := range stamps {
		out = append(out, s.Add(-time.Millisecond), s, s.Add(time.Millisecond))
	}
	return out
}

func regular(n int) []time.Time {
	stamps := make([]time.Time, n)
	for i := range stamps {
		stamps[i] = base.Add(time.Duration(i) * 10 * time.Second)
	}
	return stamps
}

// A writer whose clock stepped back 60 s on one commit (every file
// otherwise valid): no time gives a state holding a commit stamped after
// it, and when the step back lies before the moment asked for, the
// answer says that timestamps are not monotonic, naming both files.
func TestTXIDAtClockSteppedBack(t *testing.T) {
	stamps := regular(10)
	stamps[5] = stamps[5].Add(-60 * time.Second) // TXID 6: 10 s before TXID 1
	dir := stampedReplica(t, stamps)
	ctx := context.Background()
	r := openDir(t, dir)
	files := listAll(t, r)
	for _, at := range probes(stamps) {
		name := at.Format(time.RFC3339Nano)
		want := stateAt(stamps, at)
		m, err := r.TXIDAt(ctx, files, at)
		if want == 0 {
			if !errors.Is(err, replica.ErrBeforeFirst) {
				t.Errorf("%s: TXIDAt = %s, %v; want ErrBeforeFirst", name, m.TXID, err)
			}
			continue
		}
		if err != nil || m.TXID != want {
			t.Errorf("%s: TXIDAt = %s, %v; want %s", name, m.TXID, err, want)
			continue
		}
		var oe *replica.TimestampOrderError
		stepSeen := !at.Before(stamps[4]) // TXIDs 1-5 all at or before at: TXID 6 was read
		switch got := errors.As(errors.Join(m.Warnings...), &oe); {
		case got != stepSeen:
			t.Errorf("%s: warnings %v; want a TimestampOrderError: %v", name, m.Warnings, stepSeen)
		case got && (oe.First.MaxTXID != 5 || oe.Next.MaxTXID != 6 || !errors.Is(oe, replica.ErrTimestampOrder)):
			t.Errorf("%s: the warning names %s and %s, want TXIDs 5 and 6", name, oe.First, oe.Next)
		}
		// The plan and the restored database agree.
		plan, err := r.PlanFiles(ctx, files, replica.AtTime(at))
		if err != nil || plan.TXID != want || len(plan.Warnings) != len(m.Warnings) {
			t.Fatalf("%s: PlanFiles = %s (warnings %v), %v; want %s", name, plan.TXID, plan.Warnings, err, want)
		}
		path, err := restoreFile(t, r, plan)
		if err != nil {
			t.Fatal(err)
		}
		var rows int64
		if err := openDB(t, path).QueryRow(`select count(*) from t`).Scan(&rows); err != nil || rows != int64(want)-1 {
			t.Errorf("%s: restored %d rows (%v), want %d", name, rows, err, want-1)
		}
	}
}

// One flipped bit in the timestamp of one file, not resealed (its
// checksum is now wrong): for every file, bit and moment, the answer is
// the state the true timestamps give, or an error naming that file.
func TestTXIDAtFlippedTimestampBit(t *testing.T) {
	stamps := regular(10)
	dir := stampedReplica(t, stamps)
	ctx := context.Background()
	var correct, named int
	for txid := ltx.TXID(1); txid <= 10; txid++ {
		for _, bit := range []uint{0, 9, 17, 26, 34, 41} {
			copyDir := t.TempDir()
			if err := os.CopyFS(copyDir, os.DirFS(dir)); err != nil {
				t.Fatal(err)
			}
			// The timestamp is bytes 32-39 of the header, big-endian.
			mutate(t, fixtureFile(copyDir, 0, txid), func(b []byte) []byte {
				b[39-bit/8] ^= 1 << (bit % 8)
				return b
			})
			r := openDir(t, copyDir)
			files := listAll(t, r)
			for _, at := range probes(stamps) {
				want := stateAt(stamps, at)
				m, err := r.TXIDAt(ctx, files, at)
				var ce *replica.CorruptError
				switch {
				case err == nil && m.TXID == want:
					correct++
				case want == 0 && errors.Is(err, replica.ErrBeforeFirst):
					correct++
				case errors.As(err, &ce) && ce.File.MaxTXID == txid && ce.File.Level == 0:
					named++
				default:
					t.Errorf("bit %d of TXID %s's timestamp flipped, at %s: TXIDAt = %s, %v; want %s or an error naming the file",
						bit, txid, at.Format(time.RFC3339Nano), m.TXID, err, want)
				}
			}
		}
	}
	t.Logf("%d answers: %d correct, %d errors naming the damaged file, 0 wrong", correct+named, correct, named)
	if named == 0 {
		t.Error("no flip was ever noticed: the test does not test anything")
	}
}

// The zero time is a moment like any other (before the first commit),
// whatever its zone; only Latest() is the latest state.
func TestZeroTimeIsNotLatest(t *testing.T) {
	ctx := context.Background()
	r := fixtureReplica(t)
	files := listAll(t, r)
	for _, at := range []time.Time{{}, time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("UTC+1", 3600)), time.Date(1, 1, 1, 0, 0, 0, 0, time.FixedZone("UTC-5", -5*3600))} {
		target := replica.AtTime(at)
		if target.IsLatest() {
			t.Errorf("AtTime(%s).IsLatest() = true", at)
		}
		if _, err := r.PlanFiles(ctx, files, target); !errors.Is(err, replica.ErrBeforeFirst) {
			t.Errorf("PlanFiles(%s): %v, want ErrBeforeFirst", at, err)
		}
	}
	if !replica.Latest().IsLatest() || !(replica.Target{}).IsLatest() {
		t.Error("Latest() (and the zero Target) is not latest")
	}
	if _, ok := replica.AtTXID(3).Time(); ok {
		t.Error("a TXID target has a time")
	}
	if id, ok := replica.AtTXID(3).TXID(); !ok || id != 3 {
		t.Errorf("AtTXID(3).TXID() = %s, %v", id, ok)
	}
	for _, tc := range []struct {
		target replica.Target
		want   string
	}{
		{replica.Latest(), "latest"},
		{replica.AtTXID(42), "TXID 000000000000002a"},
		{replica.AtTime(time.Time{}), "0001-01-01T00:00:00Z"},
	} {
		if got := tc.target.String(); got != tc.want {
			t.Errorf("String() = %q, want %q", got, tc.want)
		}
	}
	if _, err := r.PlanFiles(ctx, files, replica.AtTXID(0)); !errors.Is(err, replica.ErrUnreachable) {
		t.Errorf("AtTXID(0): %v, want ErrUnreachable", err)
	}
}
