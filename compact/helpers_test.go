package compact_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// fastRetry keeps tests of failures quick.
var fastRetry = storage.RetryPolicy{Attempts: 3, Base: time.Millisecond, Max: 5 * time.Millisecond}

// clock is a clock the test moves by hand, shared by the writer (commit
// times) and the compactors.
type clock struct {
	mu sync.Mutex
	t  time.Time
}

// epoch is where test clocks start: a midnight, so that every interval's
// boundaries are easy to name.
var epoch = time.Date(2026, 3, 1, 0, 0, 0, 0, time.UTC)

func newClock() *clock { return &clock{t: epoch} }

func (c *clock) Now() time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.t
}

func (c *clock) Set(t time.Time) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = t
}

func (c *clock) Advance(d time.Duration) time.Time {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.t = c.t.Add(d)
	return c.t
}

// env is a directory replica, a writer committing to it, and the truth:
// what the database held after each TXID.
type env struct {
	t     testing.TB
	store storage.Backend
	rep   *replica.Replica
	w     *ltxtest.Writer
	clock *clock // nil when the env runs on the real clock
	now   func() time.Time
	truth *truth
}

// truth is what the database held after each TXID.
type truth struct {
	mu sync.Mutex
	m  map[ltx.TXID]string
}

func newEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st, filepath.Join(dir, "local.db"), newClock())
}

// newRealtimeEnv is newEnv on the real clock.
func newRealtimeEnv(t testing.TB) *env {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	return newEnvOn(t, st, filepath.Join(dir, "local.db"), nil)
}

func newEnvOn(t testing.TB, st storage.Backend, local string, c *clock) *env {
	e := &env{t: t, store: st, clock: c, now: time.Now, truth: &truth{m: make(map[ltx.TXID]string)}}
	if c != nil {
		e.now = c.Now
	}
	e.rep = replica.New(st)
	e.rep.Retry = fastRetry
	e.w = ltxtest.NewWriter(t, st, local, ltxtest.Clock(e.now))
	e.exec(`create table t(id integer primary key, v text)`)
	return e
}

// exec runs a statement and commits it as the next TXID.
func (e *env) exec(query string, args ...any) storage.FileInfo {
	e.t.Helper()
	if _, err := e.w.DB().Exec(query, args...); err != nil {
		e.t.Fatalf("%s: %v", query, err)
	}
	f, err := e.w.TryCommit()
	if err != nil {
		e.t.Fatal(err)
	}
	e.record(f.MaxTXID)
	return f
}

func (e *env) record(txid ltx.TXID) {
	sum := summarize(e.t, e.w.DB())
	e.truth.mu.Lock()
	defer e.truth.mu.Unlock()
	e.truth.m[txid] = sum
}

// commits makes n commits, one every step of the clock: inserts, updates
// and deletes, so that files overlap in pages.
func (e *env) commits(n int, step time.Duration) {
	e.t.Helper()
	for range n {
		if e.clock != nil {
			e.clock.Advance(step)
		}
		switch txid := e.w.TXID() + 1; txid % 5 {
		case 0:
			e.exec(`update t set v = hex(randomblob(60)) where id % 7 = ?`, int(txid)%7)
		case 3:
			e.exec(`delete from t where id in (select id from t order by random() limit 2)`)
		default:
			e.exec(`insert into t(v) select hex(randomblob(150)) from (select 1 union all select 2 union all select 3)`)
		}
	}
}

// summarize is a digest of every row of t.
func summarize(t testing.TB, db *sql.DB) string {
	t.Helper()
	rows, err := db.Query(`select id, v from t order by id`)
	if err != nil {
		t.Fatal(err)
	}
	defer rows.Close()
	h := sha256.New()
	n := 0
	for rows.Next() {
		var id int64
		var v string
		if err := rows.Scan(&id, &v); err != nil {
			t.Fatal(err)
		}
		fmt.Fprintf(h, "%d:%s\n", id, v)
		n++
	}
	if err := rows.Err(); err != nil {
		t.Fatal(err)
	}
	return fmt.Sprintf("%d rows %s", n, hex.EncodeToString(h.Sum(nil))[:16])
}

func (e *env) compactor(cfg compact.Config) *compact.Compactor {
	if cfg.Now == nil {
		cfg.Now = e.now
	}
	if cfg.Merge.TempDir == "" {
		cfg.Merge.TempDir = e.t.TempDir()
	}
	return compact.New(e.rep, cfg)
}

func (e *env) files() []storage.FileInfo {
	e.t.Helper()
	files, err := e.rep.Files(context.Background())
	if err != nil {
		e.t.Fatal(err)
	}
	return files
}

func levelOf(files []storage.FileInfo, level int) []storage.FileInfo {
	var out []storage.FileInfo
	for _, f := range files {
		if f.Level == level {
			out = append(out, f)
		}
	}
	storage.SortFiles(out)
	return out
}

func names(files []storage.FileInfo) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.String()
	}
	return out
}

// checkLevelsDisjoint fails if two files of one level (1-8) overlap: two
// compactors that raced and both wrote.
func checkLevelsDisjoint(t testing.TB, files []storage.FileInfo) {
	t.Helper()
	if msg := overlapping(files); msg != "" {
		t.Error(msg)
	}
}

// overlapping names two files of one level (1-8) that overlap, if any.
func overlapping(files []storage.FileInfo) string {
	for level := 1; level < storage.SnapshotLevel; level++ {
		fs := levelOf(files, level)
		for i := 1; i < len(fs); i++ {
			if fs[i].MinTXID <= fs[i-1].MaxTXID {
				return fmt.Sprintf("level %d has overlapping files %s and %s", level, fs[i-1], fs[i])
			}
		}
	}
	return ""
}

// reachable lists every TXID a restore can reach with files, in order.
func reachable(files []storage.FileInfo) []ltx.TXID {
	ends := map[ltx.TXID]bool{}
	for _, f := range files {
		ends[f.MaxTXID] = true
	}
	var out []ltx.TXID
	for txid := range ends {
		if _, err := replica.BuildPlan(files, txid); err == nil {
			out = append(out, txid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// checkRestores restores the latest state and every TXID the files reach,
// and compares each with the truth; it returns how many it checked.
func (e *env) checkRestores(t testing.TB) int {
	t.Helper()
	files := e.files()
	latest, err := replica.BuildPlan(files, 0)
	if err != nil {
		t.Fatalf("latest state unreachable: %v\n%v", err, names(files))
	}
	if want := e.w.TXID(); latest.TXID != want {
		t.Fatalf("latest reachable TXID %s, the writer is at %s", latest.TXID, want)
	}
	txids := reachable(files)
	dir := t.TempDir()
	for _, txid := range txids {
		e.restoreEquals(t, files, txid, dir)
	}
	return len(txids)
}

func (e *env) restoreEquals(t testing.TB, files []storage.FileInfo, txid ltx.TXID, dir string) {
	t.Helper()
	plan, err := replica.BuildPlan(files, txid)
	if err != nil {
		t.Fatalf("plan TXID %s: %v", txid, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("restore-%s.db", txid))
	defer os.Remove(path)
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = e.rep.Restore(context.Background(), plan, fh, replica.RestoreOptions{})
	fh.Close()
	if err != nil {
		t.Fatalf("restore TXID %s: %v", txid, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	e.truth.mu.Lock()
	want, ok := e.truth.m[txid]
	e.truth.mu.Unlock()
	if !ok {
		t.Fatalf("no truth recorded for TXID %s", txid)
	}
	if got := summarize(t, db); got != want {
		t.Fatalf("restore at TXID %s (plan %v): %s, want %s", txid, names(plan.Files), got, want)
	}
}

func pass(t testing.TB, c *compact.Compactor) compact.Report {
	t.Helper()
	rep, err := c.Pass(context.Background(), compact.PassOptions{})
	if err != nil {
		t.Fatalf("pass: %v", err)
	}
	return rep
}

func written(rep compact.Report) []storage.FileInfo {
	var out []storage.FileInfo
	for _, m := range rep.Written() {
		out = append(out, m.Output)
	}
	return out
}
