package integration

import (
	"math/rand/v2"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
)

// A writer killed with SIGKILL at random moments — between commits, in
// the middle of a commit's upload, of a group commit's flush, of the
// recovery of an earlier crash — never loses a commit it acknowledged
// (its COMMIT returned), and the replica always restores to a database
// that passes PRAGMA integrity_check.
//
//   - sync=commit: a COMMIT returns after its file is stored, so every
//     acknowledged commit is in the replica right after the kill.
//   - sync=200ms (group commit): a COMMIT returns once fsynced to the
//     local write buffer. The next open of the replica with that buffer
//     (here `strata exec`, run after each kill) stores what the buffer
//     holds, since no other writer moved the replica.
func TestWriteKill9Loop(t *testing.T) {
	const kills = 50
	writeBackends(t, func(t *testing.T, b writeBackend) {
		for _, mode := range []string{"commit", "200ms"} {
			t.Run("sync="+mode, func(t *testing.T) {
				seed := uint64(time.Now().UnixNano())
				t.Logf("seed %d", seed)
				rng := rand.New(rand.NewPCG(seed, 1))
				url, store := b.url, b.store
				if mode != "commit" {
					// The same backend, a replica of its own for this mode.
					url, store = b.fresh(t, "group")
				}
				buffer := t.TempDir()
				var acked []int64
				for i := range kills {
					w := startWriteload(t, b.env, "crash", "-url", url, "-buffer", buffer, "-sync", mode,
						"-start", strconv.Itoa((i+1)*1_000_000))
					w.waitLine("ready")
					// Kill after a random number of acknowledged commits, a
					// random time into the next one.
					n := rng.IntN(4)
					if n > 0 {
						w.waitLine("ok " + strconv.Itoa((i+1)*1_000_000+n-1))
					}
					time.Sleep(time.Duration(rng.IntN(15_000)) * time.Microsecond)
					w.kill9()
					acked = append(acked, idsWith(t, w.output(), "ok")...)
					if mode != "commit" {
						// The next open stores what the buffer holds.
						strataOK(t, b.env, "", "exec", "-sync", mode, "-buffer", buffer, url, "select count(*) from rows")
					}
					checkAcked(t, store, acked, i+1)
				}
				t.Logf("%s sync=%s: %d kills, %d acknowledged commits, 0 lost, 0 duplicated, every restore passed integrity_check",
					b.name, mode, kills, len(acked))
			})
		}
	})
}

// checkAcked restores the replica and fails unless it holds every
// acknowledged id exactly once.
func checkAcked(t *testing.T, store storage.Backend, acked []int64, kill int) {
	t.Helper()
	have := localIDs(t, restoreReplica(t, store), "rows")
	want := slices.Sorted(slices.Values(acked))
	if lost := missing(want, have); len(lost) > 0 {
		t.Fatalf("after kill %d: %d acknowledged commits lost: %v", kill, len(lost), lost)
	}
	if dup := duplicates(have); len(dup) > 0 {
		t.Fatalf("after kill %d: rows stored twice: %v", kill, dup)
	}
}
