package integration

import (
	"slices"
	"strconv"
	"testing"
)

// Two processes write one replica at once, each making 500 commits of one
// row with an id of its own, and moving on to the next id when a COMMIT
// fails with SQLITE_BUSY (a conflict: the other writer stored that TXID
// first). Exclusive creation of each TXID's file is the arbiter: the
// replica ends with exactly the rows whose COMMIT returned OK, none lost,
// none twice, and one level-0 file per TXID with no gap.
func TestWriteTwoWritersRace(t *testing.T) {
	const attempts = 500
	writeBackends(t, func(t *testing.T, b writeBackend) {
		var ws []*proc
		for k := 1; k <= 2; k++ {
			// Each has its own write buffer, as two machines would.
			ws = append(ws, startWriteload(t, b.env, "race", "-url", b.url, "-buffer", t.TempDir(),
				"-writer", strconv.Itoa(k), "-attempts", strconv.Itoa(attempts)))
		}
		var acked, refused []int64
		for k, w := range ws {
			w.wait(0)
			out := w.output()
			s := summaryOf(t, out)
			if s["fail"] != "0" {
				t.Errorf("writer %d: %s commits failed with something else than SQLITE_BUSY: %s", k+1, s["fail"], tailLines(out, 5))
			}
			ok, busy := idsWith(t, out, "ok"), idsWith(t, out, "busy")
			if len(ok)+len(busy) != attempts {
				t.Errorf("writer %d: %d ok + %d busy, want %d attempts", k+1, len(ok), len(busy), attempts)
			}
			t.Logf("%s: writer %d: %d attempts, %d committed, %d SQLITE_BUSY", b.name, k+1, attempts, len(ok), len(busy))
			acked = append(acked, ok...)
			refused = append(refused, busy...)
		}
		slices.Sort(acked)
		slices.Sort(refused)

		stored := localIDs(t, restoreReplica(t, b.store), "rows")
		if lost := missing(acked, stored); len(lost) > 0 {
			t.Errorf("%d acknowledged commits are not in the replica: %v", len(lost), lost)
		}
		if dup := duplicates(stored); len(dup) > 0 {
			t.Errorf("rows stored twice: %v", dup)
		}
		var ghosts []int64
		for _, id := range stored {
			if _, ok := slices.BinarySearch(acked, id); !ok {
				ghosts = append(ghosts, id)
			}
		}
		if len(ghosts) > 0 {
			t.Errorf("%d rows stored whose COMMIT failed: %v", len(ghosts), ghosts)
		}
		last := checkContiguous(t, level0(t, b.store))
		// TXIDs: the first writer's table, then one per acknowledged commit
		// (the second CREATE TABLE IF NOT EXISTS may store one more).
		if n := int64(len(acked)); int64(last) < n+1 || int64(last) > n+2 {
			t.Errorf("level 0 ends at TXID %s for %d acknowledged commits", last, n)
		}
		t.Logf("%s: %d acknowledged, %d refused, %d rows stored, TXIDs 1-%d contiguous, 0 lost, 0 duplicated",
			b.name, len(acked), len(refused), len(stored), last)
	})
}
