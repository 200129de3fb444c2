package vfs_test

import (
	"database/sql"
	"fmt"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/superfly/ltx"
)

// contents summarizes table t: equal summaries mean equal rows.
const contents = `select count(*), coalesce(sum(length(v)), 0), coalesce(group_concat(id || ':' || substr(v, 1, 8), ','), '') from t`

// sameAsLocal checks that the replica, read through q, holds what the
// writer's local database holds.
func sameAsLocal(t testing.TB, w *ltxtest.Writer, q querier) {
	t.Helper()
	want, got := summary(t, w.DB()), summary(t, q)
	if got != want {
		t.Fatalf("replica differs from the local database:\n got %.200s\nwant %.200s", got, want)
	}
}

func summary(t testing.TB, q querier) string {
	t.Helper()
	var n, size int64
	var rows string
	if err := q.QueryRowContext(t.Context(), contents).Scan(&n, &size, &rows); err != nil {
		t.Fatalf("%s: %v", contents, err)
	}
	return fmt.Sprintf("%d rows, %d bytes: %s", n, size, rows)
}

// fill inserts n rows of padded text, so that t spans many pages.
func fill(t testing.TB, w *ltxtest.Writer, n int) {
	t.Helper()
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
		insert into t(v) select hex(randomblob(200)) from n`, n)
}

func pollNow(t testing.TB, url string) {
	t.Helper()
	if err := strata.PollNow(url); err != nil {
		t.Fatalf("poll: %v", err)
	}
}

func txidOf(t testing.TB, q querier) ltx.TXID {
	t.Helper()
	id, err := ltx.ParseTXID(scalar[string](t, q, `pragma strata_txid`))
	if err != nil {
		t.Fatal(err)
	}
	return id
}

// When the level-0 files a reader needs next were compacted into a level-1
// file and deleted, the reader continues from the level-1 file. The
// compacted range may start right after the reader's TXID or before it.
func TestLevel0GapFallsBackToLevel1(t *testing.T) {
	for _, from := range []ltx.TXID{4, 2} {
		t.Run(fmt.Sprintf("L1 from TXID %d", from), func(t *testing.T) {
			w, url := newReplica(t)
			w.Exec(`create table t(id integer primary key, v text)`) // TXID 1
			fill(t, w, 200)                                          // 2
			fill(t, w, 10)                                           // 3
			db := open(t, url, "poll_interval", neverPoll, "cache_size", "64KiB")
			sameAsLocal(t, w, db)

			fill(t, w, 100)                                      // 4
			w.Exec(`update t set v = 'u' || v where id % 3 = 0`) // 5
			w.Exec(`delete from t where id % 7 = 0`)             // 6
			fill(t, w, 50)                                       // 7
			w.Compact(1, from, 7)
			w.Delete(0, from, 7)
			fill(t, w, 5) // 8, after the gap

			pollNow(t, url)
			if got := txidOf(t, db); got != 8 {
				t.Fatalf("after the poll: TXID %s, want 8", got)
			}
			sameAsLocal(t, w, db)
			checkIntegrity(t, db)
		})
	}
}

// A compacted file that appears after the reader indexed the newer
// level-0 files it covers never takes the reader back in time; and when
// retention then deletes those level-0 files, the reader re-plans from the
// compacted file and keeps giving the right answers.
func TestLateCompactedFileAndDeletedLevel0Files(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 300)                                          // 2: most pages live here from now on
	db := open(t, url, "poll_interval", neverPoll, "cache_size", "64KiB")
	sameAsLocal(t, w, db)
	w.Exec(`update t set v = 'a' || v where id <= 10`) // 3: a few pages
	fill(t, w, 40)                                     // 4
	pollNow(t, url)
	sameAsLocal(t, w, db)

	// Late: L1 [2-3] is older than the view, which holds TXID 4.
	w.Compact(1, 2, 3)
	w.Exec(`update t set v = 'b' || v where id = 299`) // 5
	pollNow(t, url)
	if got := txidOf(t, db); got != 5 {
		t.Fatalf("TXID %s, want 5", got)
	}
	sameAsLocal(t, w, db)

	// Retention deletes the level-0 files most of the reader's pages point
	// into. A new connection (SQLite's own cache empty) reads through a
	// page cache that holds 16 of ~40 pages: its reads hit storage.
	w.Delete(0, 2, 3)
	fresh := open(t, url, "poll_interval", neverPoll)
	sameAsLocal(t, w, fresh)
	checkIntegrity(t, fresh)
	w.Exec(`update t set v = 'c' || v where id % 50 = 0`) // 6
	pollNow(t, url)
	sameAsLocal(t, w, db)
	checkIntegrity(t, db)
}

// A connection looking at a past TXID keeps working when compaction
// deletes the level-0 files of that state: it re-plans the same TXID from
// the compacted files and never shows another state.
func TestPastStateSurvivesCompaction(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 300)                                          // 2
	w.Exec(`update t set v = 'a' || v where id % 2 = 0`)     // 3
	want := summary(t, w.DB())
	w.Exec(`update t set v = 'b' || v where id % 3 = 0`) // 4
	past := open(t, url, "poll_interval", neverPoll, "cache_size", "64KiB", "txid", "3")
	if got := summary(t, past); got != want {
		t.Fatalf("TXID 3 before compaction:\n got %.100s\nwant %.100s", got, want)
	}

	w.Compact(1, 1, 3)
	w.Compact(1, 4, 4)
	w.Delete(0, 1, 4)
	// The cache holds 16 of the table's ~150 pages: reads go to storage.
	if got, err := tryScalar[string](past, `select count(*) || ' rows' from t`); err != nil {
		t.Fatalf("TXID 3 after its level-0 files were deleted: %v", err)
	} else if got != "300 rows" {
		t.Fatalf("TXID 3 after compaction shows %s, want 300 rows", got)
	}
	if got := summary(t, past); got != want {
		t.Fatalf("TXID 3 after compaction:\n got %.100s\nwant %.100s", got, want)
	}
	checkIntegrity(t, past)
}

// Deleting most rows and VACUUMing shrinks the database: the reader
// follows, keeps pages below the new size that the shrink did not rewrite,
// drops the rest, and grows again afterwards. A read transaction begun
// before the shrink keeps reading the old, larger state.
func TestVacuumShrinksAndRegrows(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	w.Exec(`create table keep(id integer primary key, v text)`)
	w.Exec(`insert into keep(v) values ('first'), ('second')`)
	fill(t, w, 2000)
	db := open(t, url)
	sameAsLocal(t, w, db)
	old := summary(t, w.DB())

	pinned := conn(t, db)
	tx, err := pinned.BeginTx(t.Context(), &sql.TxOptions{})
	if err != nil {
		t.Fatal(err)
	}
	defer tx.Rollback()
	// The transaction pins its state with a read of a small table; it
	// reads t only after the shrink, so t's old pages come through the
	// VFS from the pinned state, not from SQLite's own cache.
	if got := scalar[string](t, tx, `select group_concat(v) from keep`); got != "first,second" {
		t.Fatalf("table keep: %q", got)
	}

	before := fileSize(t, w)
	w.Exec(`delete from t where id % 10 != 0`)
	w.Exec(`vacuum`)
	if after := fileSize(t, w); after >= before/2 {
		t.Fatalf("VACUUM did not shrink the local database: %d -> %d bytes", before, after)
	}
	eventually(t, 2*time.Second, func() (bool, string) {
		got, want := summary(t, db), summary(t, w.DB())
		return got == want, "after VACUUM: " + got[:min(len(got), 40)]
	})
	checkIntegrity(t, db)
	if got := scalar[string](t, db, `select group_concat(v) from keep`); got != "first,second" {
		t.Errorf("table keep after VACUUM: %q", got)
	}

	if got := summary(t, tx); got != old {
		t.Errorf("pinned transaction moved during the shrink")
	}
	checkIntegrity(t, tx)
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}

	fill(t, w, 1000)
	eventually(t, 2*time.Second, func() (bool, string) {
		got, want := summary(t, db), summary(t, w.DB())
		return got == want, "after regrowing: " + got[:min(len(got), 40)]
	})
	checkIntegrity(t, db)
	sameAsLocal(t, w, pinned)
}

func fileSize(t testing.TB, w *ltxtest.Writer) int64 {
	t.Helper()
	return scalar[int64](t, w.DB(), `select page_count * page_size from pragma_page_count, pragma_page_size`)
}

// When the level-0 files after the reader's TXID were compacted to level 2
// only and deleted, level 1 does not bridge the gap: the poller re-plans
// from a full listing instead of staying behind for good.
func TestPollerBridgesAGapCompactedToLevel2(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 50)                                           // 2
	db := open(t, url, "poll_interval", neverPoll)
	sameAsLocal(t, w, db)

	fill(t, w, 10)                                       // 3
	w.Exec(`update t set v = 'u' || v where id % 4 = 0`) // 4
	w.Compact(2, 3, 4)
	w.Delete(0, 3, 4)
	fill(t, w, 10) // 5
	pollNow(t, url)
	if got := txidOf(t, db); got != 5 {
		t.Fatalf("after the poll: TXID %s, want 5", got)
	}
	sameAsLocal(t, w, db)
	checkIntegrity(t, db)

	// It goes on following level 0.
	w.Exec(`delete from t where id % 5 = 0`) // 6
	pollNow(t, url)
	if got := txidOf(t, db); got != 6 {
		t.Fatalf("after the next poll: TXID %s, want 6", got)
	}
	sameAsLocal(t, w, db)
	if lag := lagOf(t, db); lag > 1 {
		t.Errorf("strata_lag = %.3f s after polls that caught up", lag)
	}
}

// A corrupt level-0 file right after the reader's TXID, which a level-1
// file covers, is planned around: the poller used to fail on it at every
// tick and stay behind for good.
func TestCorruptLevel0FileIsPlannedAround(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 50)                                           // 2
	db := open(t, url, "poll_interval", neverPoll)
	sameAsLocal(t, w, db)

	bad := w.Exec(`update t set v = 'x' || v where id % 3 = 0`) // 3
	w.Compact(1, 3, 3)
	path := ltxPath(url, bad)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	copy(b, "XXXX") // not an LTX header
	if err := os.WriteFile(path, b, 0o644); err != nil {
		t.Fatal(err)
	}
	fill(t, w, 10) // 4

	if err := strata.PollNow(url); err != nil {
		t.Fatalf("poll: %v", err)
	}
	if got := txidOf(t, db); got != 4 {
		t.Fatalf("after the poll: TXID %s, want 4", got)
	}
	sameAsLocal(t, w, db)
	checkIntegrity(t, db)

	// The corrupt file stays listed in level 0; later polls go on.
	w.Exec(`delete from t where id % 7 = 0`) // 5
	pollNow(t, url)
	if got := txidOf(t, db); got != 5 {
		t.Fatalf("after the next poll: TXID %s, want 5", got)
	}
	sameAsLocal(t, w, db)
}

// A read transaction whose state compaction deleted, with its pages not
// cached, fails; the reason SQLite reduces to "disk I/O error" is in
// LastError and says what happened. The next transaction reads the latest
// state.
func TestCompactedAwayStateIsReported(t *testing.T) {
	w, url := keepAndT(t)
	// A 16-page cache cannot hold t's pages.
	db := open(t, url, "poll_interval", neverPoll, "cache_size", "64KiB")
	c := conn(t, db)
	tx := pin(t, c)

	w.Exec(`update t set v = 'b' || v`) // 4
	pollNow(t, url)
	w.Compact(1, 1, 4)
	w.Delete(0, 1, 4)

	if _, err := trySummary(tx); err == nil {
		t.Fatal("a transaction at TXID 3 read t after compaction deleted every file of TXID 3")
	}
	lastErr := strata.LastError()
	if lastErr == nil || !strings.Contains(lastErr.Error(), "compacted away") ||
		!strings.Contains(lastErr.Error(), ltx.TXID(3).String()) {
		t.Errorf("LastError = %v, want it to say the state at TXID 3 was compacted away", lastErr)
	}
	tx.Rollback()
	sameAsLocal(t, w, c)
	checkIntegrity(t, c)
}

// Re-planning a view whose files compaction deleted builds it from a fresh
// listing: another connection's cached view at the same TXID (time travel
// to what is also the latest state) names the same deleted files and used
// to be handed back, failing the read again.
func TestReplanIgnoresAStalePastView(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`) // 1
	fill(t, w, 300)                                          // 2
	w.Exec(`update t set v = 'a' || v where id <= 10`)       // 3
	fill(t, w, 40)                                           // 4
	latest := open(t, url, "poll_interval", neverPoll, "cache_size", "64KiB")
	sameAsLocal(t, w, latest)
	past := open(t, url, "poll_interval", neverPoll, "txid", "4")
	sameAsLocal(t, w, past)

	w.Compact(1, 1, 4)
	w.Delete(0, 1, 4)

	fresh := open(t, url, "poll_interval", neverPoll)
	for i := range 3 {
		if _, err := tryScalar[int64](fresh, `select count(*) from t where v like '%x%'`); err != nil {
			t.Errorf("attempt %d: %v (last error: %v)", i, err, strata.LastError())
		}
	}
}
