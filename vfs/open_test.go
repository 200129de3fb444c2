package vfs_test

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"math"
	"os"
	osexec "os/exec"
	"path/filepath"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// openErr opens a replica and runs a query, expecting the open to fail; it
// returns the VFS's reason for the failure.
func openErr(t *testing.T, replicaURL string, params ...string) error {
	t.Helper()
	db := open(t, replicaURL, params...)
	if _, err := tryScalar[int](db, `select 1`); err == nil {
		t.Fatalf("open %s %v succeeded", replicaURL, params)
	}
	err := strata.LastOpenError()
	if err == nil {
		t.Fatal("open failed but LastOpenError is nil")
	}
	return err
}

// A replica with no files cannot be opened read-only: the open fails at
// once and says how to wait, unless the URI asks to wait for a first file.
func TestEmptyReplica(t *testing.T) {
	t.Run("fails at once", func(t *testing.T) {
		start := time.Now()
		err := openErr(t, "file://"+t.TempDir())
		if took := time.Since(start); took > time.Second {
			t.Errorf("failing took %s", took)
		}
		if !errors.Is(err, replica.ErrEmpty) || !strings.Contains(err.Error(), "wait=") {
			t.Errorf("error %q: want replica.ErrEmpty and a hint about wait=", err)
		}
	})

	t.Run("waits in vain", func(t *testing.T) {
		start := time.Now()
		err := openErr(t, "file://"+t.TempDir(), "wait", "300ms")
		if took := time.Since(start); took < 300*time.Millisecond {
			t.Errorf("gave up after %s, want 300ms", took)
		}
		if !errors.Is(err, replica.ErrEmpty) || !strings.Contains(err.Error(), "waited 300ms") {
			t.Errorf("error %q: want replica.ErrEmpty saying how long it waited", err)
		}
	})

	t.Run("a file appears within the wait", func(t *testing.T) {
		w, url := newReplica(t)
		if _, err := w.DB().Exec(`create table t(x); insert into t values (42)`); err != nil {
			t.Fatal(err)
		}
		db := open(t, url, "wait", "2s")
		uploaded := make(chan error, 1)
		go func() {
			time.Sleep(300 * time.Millisecond) // the replica stays empty a while
			_, err := w.TryCommit()
			uploaded <- err
		}()
		defer func() {
			if err := <-uploaded; err != nil {
				t.Error(err)
			}
		}()
		start := time.Now()
		if got := scalar[int](t, db, `select x from t`); got != 42 {
			t.Errorf("x = %d, want 42", got)
		}
		if took := time.Since(start); took < 300*time.Millisecond || took > 2*time.Second {
			t.Errorf("open took %s; want after the file appeared (300ms) and within the wait (2s)", took)
		}
	})
}

// Bad URI parameters and unreachable targets fail the open with a reason
// that names the culprit.
func TestOpenErrors(t *testing.T) {
	dir := fixture.ReplicaDir(t)
	for _, tc := range []struct {
		params []string
		want   string
	}{
		{[]string{"wait", "forever"}, `wait="forever"`},
		{[]string{"poll_interval", "0s"}, `poll_interval="0s"`},
		{[]string{"cache_size", "lots"}, `"lots"`},
		{[]string{"txid", "zz"}, `"zz"`},
		{[]string{"txid", "0"}, `invalid TXID "0"`},
		{[]string{"txid", "1000"}, "unreachable"},
		{[]string{"time", "yesterday-ish"}, `"yesterday-ish"`},
		{[]string{"time", "2000-01-01T00:00:00Z"}, "before the first transaction"},
		{[]string{"time", "10000 days ago"}, "before the first transaction"},
	} {
		t.Run(strings.Join(tc.params, "="), func(t *testing.T) {
			if err := openErr(t, dir, tc.params...); !strings.Contains(err.Error(), tc.want) {
				t.Errorf("error %q does not mention %s", err, tc.want)
			}
		})
	}
	t.Run("no replica", func(t *testing.T) {
		if err := openErr(t, ""); !strings.Contains(err.Error(), "replica=") {
			t.Errorf("error %q does not say how to name a replica", err)
		}
	})
	t.Run("unknown scheme", func(t *testing.T) {
		if err := openErr(t, "ftp://example.com/x"); !strings.Contains(err.Error(), `"ftp"`) {
			t.Errorf("error %q does not name the scheme", err)
		}
	})
}

// Ten connections to one replica share one state: one index, one cache,
// one poller. A page one connection fetched is a cache hit for the others;
// a commit one connection sees, all see at once; and the state goes away
// with the last connection.
func TestConnectionsShareOneState(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 500)
	db := open(t, url)
	db.SetMaxOpenConns(10)

	first := conn(t, db)
	want := summary(t, first)
	goroutines := runtime.NumGoroutine()
	s1, ok := strata.Stats(url)
	if !ok {
		t.Fatalf("no state for %s", url)
	}
	conns := []querier{first}
	for range 9 {
		c := conn(t, db)
		if got := summary(t, c); got != want {
			t.Fatalf("another connection reads %.60s, want %.60s", got, want)
		}
		conns = append(conns, c)
	}
	s2, _ := strata.Stats(url)
	t.Logf("first scan: %d misses; nine more connections: %d more misses, %d more hits", s1.Misses, s2.Misses-s1.Misses, s2.CacheHits-s1.CacheHits)
	if s2.Misses != s1.Misses {
		t.Errorf("nine more connections fetched %d pages again: they do not share the cache", s2.Misses-s1.Misses)
	}
	if extra := runtime.NumGoroutine() - goroutines; extra >= 9 {
		t.Errorf("nine more connections started %d goroutines: one poller each?", extra)
	}

	w.Exec(`insert into t(v) values ('new')`)
	eventually(t, 2*time.Second, func() (bool, string) {
		n := scalar[int](t, conns[0], `select count(*) from t`)
		return n == 501, fmt.Sprintf("count = %d, want 501", n)
	})
	for i, c := range conns {
		if n := scalar[int](t, c, `select count(*) from t`); n != 501 {
			t.Errorf("connection %d: count = %d right after connection 0 saw 501", i, n)
		}
	}

	for _, c := range conns {
		c.(interface{ Close() error }).Close()
	}
	db.Close()
	if _, ok := strata.Stats(url); ok {
		t.Error("the replica's state outlived its last connection")
	}
}

// The page cache is bounded in bytes: scanning a table far larger than
// the cache keeps at most cache_size / page_size pages.
func TestCacheIsBounded(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	fill(t, w, 2000)
	db := open(t, url, "cache_size", "100KiB")
	sameAsLocal(t, w, db)
	checkIntegrity(t, db)
	s, _ := strata.Stats(url)
	pages := scalar[int](t, db, `pragma page_count`)
	t.Logf("%d-page database, 100 KiB cache: %d pages cached, %d hits, %d misses", pages, s.CacheEntries, s.CacheHits, s.Misses)
	if s.CacheEntries > 100<<10/4096 {
		t.Errorf("cache holds %d pages of 4 KiB, over its 100 KiB bound", s.CacheEntries)
	}
}

// Page sizes from 512 to 65536 bytes come from the LTX headers; the first
// file may be a level-0 file or a level-9 snapshot.
func TestPageSizesAndSnapshotLevels(t *testing.T) {
	for _, tc := range []struct {
		pageSize, level int
	}{{512, 0}, {1024, 9}, {4096, 9}, {8192, 0}, {65536, 0}} {
		t.Run(fmt.Sprintf("%d-byte pages, snapshot at L%d", tc.pageSize, tc.level), func(t *testing.T) {
			w, url := newReplica(t, ltxtest.SnapshotLevel(tc.level))
			if _, err := w.DB().Exec(fmt.Sprintf(`pragma page_size = %d; create table t(id integer primary key, v text)`, tc.pageSize)); err != nil {
				t.Fatal(err)
			}
			w.Snapshot()
			fill(t, w, 300)
			db := open(t, url)
			if got := scalar[int](t, db, `pragma page_size`); got != tc.pageSize {
				t.Errorf("page_size = %d, want %d", got, tc.pageSize)
			}
			sameAsLocal(t, w, db)
			checkIntegrity(t, db)
			w.Exec(`delete from t where id % 2 = 0`)
			eventually(t, 2*time.Second, func() (bool, string) {
				got, want := summary(t, db), summary(t, w.DB())
				return got == want, "after a delete: " + got[:20]
			})
		})
	}
}

// A level-0 file whose page index puts a page at an offset near MaxInt64
// fails the open with an error naming the bad entry. The bounds check used
// to overflow and accept it; warming the file's pages then panicked,
// taking the process down.
func TestOpenRejectsIndexOffsetsPastTheFile(t *testing.T) {
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

// A local file named like the label's journal or WAL (strata.db-journal,
// strata.db-wal in the working directory) is not the replica's: opening
// the replica ignores it and leaves it alone. A WAL file used to make
// SQLite switch the replica to WAL mode, which failed the open; a journal
// must not be taken for a hot journal either.
func TestStrayLocalJournalAndWALAreIgnored(t *testing.T) {
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
func TestURIParametersTXIDAndTimeAreExclusive(t *testing.T) {
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

// A failed read says only what SQLite says ("disk I/O error"), without an
// unrelated OS error after it; the connection's strata_last_error says why,
// naming the page and the file.
func TestReadErrorsCarryTheReason(t *testing.T) {
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v blob)`)
	// Large enough not to be read whole (and cached) when it is indexed.
	f := w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 60)
		insert into t(v) select randomblob(3000) from n`)
	c := conn(t, open(t, url, "poll_interval", neverPoll, "cache_size", "16KiB"))
	exec(t, c, `pragma cache_size = 0`)
	if n := scalar[int64](t, c, `select count(*) from sqlite_master`); n != 1 {
		t.Fatal(n)
	}
	// Damage every frame after the header: page data no longer decodes.
	path := ltxPath(url, f)
	data, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	good := bytes.Clone(data)
	for i := ltx.HeaderSize + 8; i < len(data)/2; i += 7 {
		data[i] ^= 0xff
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
	_, err = tryScalar[int64](c, `select sum(length(v)) from t`)
	if err == nil {
		t.Fatal("a scan of damaged pages succeeded")
	}
	if msg := err.Error(); msg != "disk I/O error" {
		t.Errorf("error %q: want SQLite's own message and nothing after it", msg)
	}
	if msg := scalar[string](t, c, `pragma strata_last_error`); !strings.Contains(msg, "page") || !strings.Contains(msg, f.Name()) {
		t.Errorf("strata_last_error = %q, want the page and the file", msg)
	}
	// Once the file is whole again, the same connection reads it.
	if err := os.WriteFile(path, good, 0o644); err != nil {
		t.Fatal(err)
	}
	for i := range 3 {
		if _, err := tryScalar[int64](c, `select sum(length(v)) from t`); err != nil {
			t.Fatalf("query %d after the file was repaired: %v", i, err)
		}
	}
}

// A failed open leaves every other connection alone. (sqlite3vfs marked a
// file whose open failed as open, so SQLite closed it, and the close went
// to the first file the process had opened: that connection then failed
// every statement with "SQL logic error".) The test runs in a fresh
// process, where its connection's file is that first one.
func TestFailedOpenLeavesOtherConnectionsAlone(t *testing.T) {
	if os.Getenv("STRATA_TEST_FRESH_PROCESS") == "" {
		cmd := osexec.Command(os.Args[0], "-test.run=^TestFailedOpenLeavesOtherConnectionsAlone$", "-test.v")
		cmd.Env = append(os.Environ(), "STRATA_TEST_FRESH_PROCESS=1")
		out, err := cmd.CombinedOutput()
		if err != nil || !strings.Contains(string(out), "--- PASS") {
			t.Fatalf("in a fresh process: %v\n%s", err, out)
		}
		return
	}
	w, url := newReplica(t)
	w.Exec(`create table t(id integer primary key, v text)`)
	w.Exec(`insert into t(v) values ('x')`)
	c := conn(t, open(t, url))
	if n := scalar[int64](t, c, `select count(*) from t`); n != 1 {
		t.Fatal(n)
	}
	for range 5 {
		if err := openErr(t, url, "txid", "99"); err == nil {
			t.Fatal("an open at a TXID past the replica succeeded")
		}
	}
	if n, err := tryScalar[int64](c, `select count(*) from t`); err != nil || n != 1 {
		t.Errorf("after failed opens the first connection reads %d rows, %v", n, err)
	}
	if txid, err := tryScalar[string](c, `pragma strata_txid`); err != nil || txid != "0000000000000002" {
		t.Errorf("strata_txid = %q, %v after failed opens", txid, err)
	}
}
