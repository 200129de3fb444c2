package vfs_test

// Regression tests for bugs found in review: each fails on the code before
// the fix (see regress_internal_test.go for those that need internals).

import (
	"context"
	"database/sql"
	"encoding/binary"
	"fmt"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// ltxPath is where the file backend of url keeps f.
func ltxPath(url string, f storage.FileInfo) string {
	return filepath.Join(strings.TrimPrefix(url, "file://"), "ltx", strconv.Itoa(f.Level), f.Name())
}

// lagOf is strata_lag in seconds.
func lagOf(t testing.TB, q querier) float64 {
	t.Helper()
	s := scalar[string](t, q, `pragma strata_lag`)
	lag, err := strconv.ParseFloat(s, 64)
	if err != nil {
		t.Fatalf("strata_lag = %q: %v", s, err)
	}
	return lag
}

// trySummary is summary returning the error instead of failing.
func trySummary(q querier) (string, error) {
	var n, size int64
	var rows string
	err := q.QueryRowContext(context.Background(), contents).Scan(&n, &size, &rows)
	return fmt.Sprintf("%d rows, %d bytes: %s", n, size, rows), err
}

// A level-0 file whose page index puts a page at an offset near MaxInt64
// fails the open with an error naming the bad entry. The bounds check used
// to overflow and accept it; warming the file's pages then panicked,
// taking the process down.
func TestRegressIndexOffsetOverflowOnOpen(t *testing.T) {
	w, url := newReplica(t)
	f := w.Exec(`create table t(id integer primary key, v text)`) // 1, read whole when indexed
	path := ltxPath(url, f)
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	n := len(b)
	start := n - ltx.TrailerSize - 8 - int(binary.BigEndian.Uint64(b[n-ltx.TrailerSize-8:]))
	var idx []byte
	for _, v := range []uint64{1, math.MaxInt64 - 10, 100, 0} { // page 1, offset, size; end marker
		idx = binary.AppendUvarint(idx, v)
	}
	out := append(append([]byte(nil), b[:start]...), idx...)
	out = binary.BigEndian.AppendUint64(out, uint64(len(idx)))
	out = append(out, b[n-ltx.TrailerSize:]...)
	if err := os.WriteFile(path, out, 0o644); err != nil {
		t.Fatal(err)
	}
	err = openErr(t, url)
	if !strings.Contains(err.Error(), "out of bounds") {
		t.Errorf("open error %q does not say the page index is out of bounds", err)
	}
}

// When the level-0 files after the reader's TXID were compacted to level 2
// only and deleted, level 1 does not bridge the gap: the poller re-plans
// from a full listing instead of staying behind for good.
func TestRegressGapCompactedToLevel2(t *testing.T) {
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

// A poller that cannot advance (a level-0 file missing, nothing covering
// it) reports the failure and lets strata_lag grow: the lag used to be
// reset by every poll that merely listed, hiding a reader stuck forever.
// Once the gap is filled it catches up and the lag drops.
func TestRegressStalledPollerLagGrows(t *testing.T) {
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

// A corrupt level-0 file right after the reader's TXID, which a level-1
// file covers, is planned around: the poller used to fail on it at every
// tick and stay behind for good.
func TestRegressCorruptLevel0CoveredByLevel1(t *testing.T) {
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

// keepAndT is a replica whose table t spans ~30 pages, all written by
// TXID 3, beside a one-page table keep that a transaction reads to pin its
// state without reading t.
func keepAndT(t *testing.T) (*ltxtest.Writer, string) {
	t.Helper()
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)              // 1
	w.Exec(`create table keep(v text); insert into keep values ('kept')`) // 2
	fill(t, w, 300)                                                       // 3
	return w, url
}

// pin begins a read transaction on c and reads table keep, so that it
// holds the current state without having read t.
func pin(t *testing.T, c *sql.Conn) *sql.Tx {
	t.Helper()
	tx, err := c.BeginTx(t.Context(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tx.Rollback() })
	if got := scalar[string](t, tx, `select v from keep`); got != "kept" {
		t.Fatalf("table keep: %q", got)
	}
	return tx
}

// A read transaction's pages stay cached when a newer view is published:
// publishing used to evict every page version the new files replaced, so
// once compaction deleted the old files the transaction could not read
// pages it had every right to.
func TestRegressPinnedViewKeepsCachedPages(t *testing.T) {
	w, url := keepAndT(t)
	db := open(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	// Another connection reads all of t, filling strata's page cache; c's
	// own SQLite cache holds none of t's pages.
	other := conn(t, db)
	want := summary(t, other)
	tx := pin(t, c)

	w.Exec(`update t set v = 'b' || v`) // 4: replaces every page of t
	pollNow(t, url)
	w.Compact(1, 1, 4)
	w.Delete(0, 1, 4)

	got, err := trySummary(tx)
	if err != nil {
		t.Fatalf("pinned transaction reading pages that were cached: %v (last error: %v)", err, strata.LastError())
	}
	if got != want {
		t.Errorf("pinned transaction sees another state:\n got %.100s\nwant %.100s", got, want)
	}
	if err := tx.Rollback(); err != nil {
		t.Fatal(err)
	}
	sameAsLocal(t, w, c)
}

// The same holds for a transaction that pinned a view older than the one
// a publish replaces: here the transaction pins TXID 3, TXID 4 (which
// leaves t alone) is published while it reads, then TXID 5 (which rewrites
// t). The publish of 5 evicts the versions of t's pages that view 4 held,
// which are the very ones the transaction at TXID 3 reads.
func TestRegressPinnedOlderViewKeepsCachedPages(t *testing.T) {
	w, url := keepAndT(t)
	db := open(t, url, "poll_interval", neverPoll)
	c := conn(t, db)
	other := conn(t, db)
	want := summary(t, other)
	tx := pin(t, c)

	w.Exec(`update keep set v = 'kept'`) // 4: t untouched
	pollNow(t, url)
	w.Exec(`update t set v = 'b' || v`) // 5: replaces every page of t
	pollNow(t, url)
	w.Compact(1, 1, 5)
	w.Delete(0, 1, 5)

	got, err := trySummary(tx)
	if err != nil {
		t.Fatalf("pinned transaction reading pages that were cached: %v (last error: %v)", err, strata.LastError())
	}
	if got != want {
		t.Errorf("pinned transaction sees another state:\n got %.100s\nwant %.100s", got, want)
	}
}

// A read transaction whose state compaction deleted, with its pages not
// cached, fails; the reason SQLite reduces to "disk I/O error" is in
// LastError and says what happened. The next transaction reads the latest
// state.
func TestRegressCompactedAwayInLastError(t *testing.T) {
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

// A local file named like the label's journal or WAL (strata.db-journal,
// strata.db-wal in the working directory) is not the replica's: opening
// the replica ignores it and leaves it alone. A WAL file used to make
// SQLite switch the replica to WAL mode, which failed the open; a journal
// must not be taken for a hot journal either.
func TestRegressStrayJournalAndWAL(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 5)
	dir := t.TempDir()
	t.Chdir(dir)
	garbage := []byte(strings.Repeat("not a journal, not a WAL. ", 200))
	for _, suffix := range []string{"-journal", "-wal"} {
		t.Run(suffix, func(t *testing.T) {
			stray := filepath.Join(dir, "strata.db"+suffix)
			for _, content := range [][]byte{garbage, {}} {
				if err := os.WriteFile(stray, content, 0o644); err != nil {
					t.Fatal(err)
				}
				db := open(t, url, "poll_interval", neverPoll)
				n, err := tryScalar[int](db, `select count(*) from t`)
				if err != nil || n != 5 {
					t.Errorf("with a %d-byte %s beside the label: count = %d, %v (last error: %v)",
						len(content), filepath.Base(stray), n, err, strata.LastError())
				}
				db.Close()
				if got, err := os.ReadFile(stray); err != nil || string(got) != string(content) {
					t.Errorf("%s was changed or deleted (%v)", filepath.Base(stray), err)
				}
			}
			os.Remove(stray)
		})
	}
}

// txid= and time= name two targets: together they are an error rather
// than one silently winning.
func TestRegressTXIDAndTimeTogether(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 5)
	now := time.Now().UTC().Format(time.RFC3339Nano)
	err := openErr(t, url, "txid", "1", "time", now)
	if !strings.Contains(err.Error(), "txid") || !strings.Contains(err.Error(), "time") {
		t.Errorf("open error %q does not name txid and time", err)
	}
	// Each alone opens.
	for _, p := range [][]string{{"txid", "1"}, {"time", now}} {
		if _, err := tryScalar[int](open(t, url, p...), `select count(*) from t`); err != nil {
			t.Errorf("%s=%s alone: %v (%v)", p[0], p[1], err, strata.LastOpenError())
		}
	}
}

// Re-planning a view whose files compaction deleted builds it from a fresh
// listing: another connection's cached view at the same TXID (time travel
// to what is also the latest state) names the same deleted files and used
// to be handed back, failing the read again.
func TestRegressReplanIgnoresStalePastView(t *testing.T) {
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
