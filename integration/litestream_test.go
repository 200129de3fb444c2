package integration

// Interoperability with the real Litestream v0.5.18 (`make test` installs
// it): a replica strata compacts restores with `litestream restore`;
// `strata compact` compacts a replica `litestream replicate` wrote, after
// which both tools restore the same states and Litestream replicates on;
// strata reads a replica Litestream compacted itself. Each in the
// directory and the S3 layout.

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/backends"
	"github.com/superfly/ltx"
)

// litestreamEnv is the environment of a litestream process: the test
// process's without AWS settings (Litestream's S3 client fails when
// AWS_CA_BUNDLE is set), plus extra.
func litestreamEnv(extra ...string) []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_") && !strings.HasPrefix(kv, "LITESTREAM_") {
			env = append(env, kv)
		}
	}
	return append(env, extra...)
}

// litestream runs a litestream command to its end.
func litestream(t testing.TB, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, testenv.Litestream(t), args...)
	cmd.Env = env
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("litestream %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}

// replicaTarget is a replica in one of the two layouts.
type replicaTarget struct {
	name  string
	url   string // for strata and litestream
	store storage.Backend
	env   []string // S3 credentials, for child processes
}

// targets are a directory replica and an S3 replica (versitygw).
func targets(t *testing.T) []replicaTarget {
	dir := filepath.Join(t.TempDir(), "replica")
	fileURL := "file://" + dir
	st, err := backends.Open(context.Background(), fileURL)
	if err != nil {
		t.Fatal(err)
	}
	srv := testenv.VersityGW(t)
	useS3Credentials()
	bucket := srv.CreateBucket(t, "ls")
	return []replicaTarget{
		{"dir", fileURL, st, nil},
		{"s3", srv.URL(bucket, "db"), srv.Store(t, bucket, "db"), srv.Env()},
	}
}

// compactAt runs one pass as if the clock said now+ahead: every commit is
// then before the boundary of every level.
func compactAt(t testing.TB, r *replica.Replica, ahead time.Duration) compact.Report {
	t.Helper()
	cfg := compact.Config{Now: func() time.Time { return time.Now().Add(ahead) }, Merge: replica.CompactOptions{TempDir: t.TempDir()}}
	rep, err := compact.New(r, cfg).Pass(context.Background(), compact.PassOptions{})
	if err != nil {
		t.Fatalf("compact: %v", err)
	}
	return rep
}

// Litestream restores a replica strata compacted, at the latest state and
// at every state the files still reach, each equal to what the writer
// uploaded.
func TestLitestreamRestoresWhatStrataCompacted(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			b := newSoakBank(t, tg.store)
			r := replica.New(tg.store)
			// Three rounds of commits; the first two compacted (levels 1-3, a
			// snapshot, level 0 pruned), the last left at level 0. The clock
			// runs a day ahead, past the next midnight: the snapshot boundary.
			for round, ahead := range []time.Duration{25 * time.Hour, 50 * time.Hour, 0} {
				for range 25 {
					if err := b.transfer(); err != nil {
						t.Fatal(err)
					}
				}
				if ahead > 0 {
					rep := compactAt(t, r, ahead)
					if len(rep.Written()) < 3 {
						t.Fatalf("round %d wrote %d files: %+v", round, len(rep.Written()), rep.Merges)
					}
				}
			}
			files, err := r.Files(context.Background())
			if err != nil {
				t.Fatal(err)
			}
			levels := map[int]int{}
			for _, f := range files {
				levels[f.Level]++
			}
			if levels[1] == 0 || levels[2] == 0 || levels[3] == 0 || levels[9] == 0 || levels[0] == 0 {
				t.Fatalf("the replica lacks a level: %v", levels)
			}
			env := litestreamEnv(tg.env...)
			dir := t.TempDir()
			txids := reachableTXIDs(files)
			for _, txid := range append([]ltx.TXID{0}, txids...) {
				out := filepath.Join(dir, fmt.Sprintf("ls-%s.db", txid))
				args := []string{"restore", "-o", out}
				want, _ := b.state(b.w.TXID())
				if txid != 0 {
					args = append(args, "-txid", txid.String())
					want, _ = b.state(txid)
				}
				litestream(t, env, append(args, tg.url)...)
				got := readFile(t, out)
				if got.counter != want.counter || got.digest != want.digest {
					t.Errorf("litestream restore %v: counter %d %s, want %d %s", args[3:], got.counter, got.digest, want.counter, want.digest)
				}
				os.Remove(out)
			}
			t.Logf("litestream restored the latest state and %d more from %d files (per level %v)", len(txids), len(files), levels)
		})
	}
}

// readFile reads a bank state from a database file.
func readFile(t testing.TB, path string) bankState {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	if ic := mustScalar[string](t, db, `pragma integrity_check`); ic != "ok" {
		t.Fatalf("%s: integrity_check: %s", path, ic)
	}
	s, err := readBank(db)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	return s
}

// liveDB is a database in WAL mode that litestream replicates, with the
// bank's tables.
type liveDB struct {
	path string
	db   *sql.DB
	n    int
}

func newLiveDB(t testing.TB) *liveDB {
	t.Helper()
	path := filepath.Join(t.TempDir(), "live.db")
	db, err := sql.Open("sqlite3", "file:"+path+"?_journal_mode=WAL&_busy_timeout=5000&_txlock=immediate")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1)
	for _, q := range []string{
		`create table accounts(id integer primary key, balance integer, pad text)`,
		`create table meta(k text primary key, v integer)`,
		`insert into meta values ('counter', 0)`,
		fmt.Sprintf(`with recursive n(i) as (select 1 union all select i+1 from n where i < %d)
			insert into accounts select i, 1000, hex(randomblob(100)) from n`, soakAccounts),
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &liveDB{path: path, db: db}
}

func (l *liveDB) transfer(t testing.TB) {
	t.Helper()
	l.n++
	a, b := 1+l.n%soakAccounts, 1+(l.n*7)%soakAccounts
	tx, err := l.db.Begin()
	if err != nil {
		t.Fatal(err)
	}
	for _, q := range []string{
		fmt.Sprintf(`update accounts set balance = balance - 5 where id = %d`, a),
		fmt.Sprintf(`update accounts set balance = balance + 5 where id = %d`, b),
		`update meta set v = v + 1`,
	} {
		if _, err := tx.Exec(q); err != nil {
			tx.Rollback()
			t.Fatal(err)
		}
	}
	if err := tx.Commit(); err != nil {
		t.Fatal(err)
	}
}

func (l *liveDB) state(t testing.TB) bankState {
	t.Helper()
	s, err := readBank(l.db)
	if err != nil {
		t.Fatal(err)
	}
	return s
}

// replicate runs `litestream replicate` on the database with config extra
// (YAML at the top level), until the returned stop is called, which sends
// SIGTERM (Litestream syncs what is left) and waits.
func (l *liveDB) replicate(t testing.TB, tg replicaTarget, extra string) (stop func()) {
	t.Helper()
	cfg := filepath.Join(t.TempDir(), "litestream.yml")
	yml := fmt.Sprintf("%s\ndbs:\n  - path: %s\n    monitor-interval: 100ms\n    replica:\n      url: %q\n      sync-interval: 100ms\n", extra, l.path, tg.url)
	if err := os.WriteFile(cfg, []byte(yml), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(testenv.Litestream(t), "replicate", "-config", cfg)
	cmd.Env = litestreamEnv(tg.env...)
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	done := make(chan error, 1)
	go func() { done <- cmd.Wait() }()
	stopped := false
	stop = func() {
		if stopped {
			return
		}
		stopped = true
		_ = cmd.Process.Signal(syscall.SIGTERM)
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("litestream replicate: %v\n%s", err, out)
			}
		case <-time.After(30 * time.Second):
			_ = cmd.Process.Kill()
			t.Errorf("litestream replicate did not stop within 30 s of SIGTERM\n%s", out)
		}
	}
	t.Cleanup(func() {
		if !stopped {
			_ = cmd.Process.Kill()
			<-done
		}
	})
	return stop
}

// caughtUp waits until the replica's latest state is the database's.
func caughtUp(t testing.TB, r *replica.Replica, want bankState) {
	t.Helper()
	dir := t.TempDir()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		files, err := r.Files(context.Background())
		if err != nil {
			return false, err.Error()
		}
		plan, err := replica.BuildPlan(files, 0)
		if err != nil {
			return false, err.Error()
		}
		got := restoreState(t, r, files, plan.TXID, dir)
		return got.digest == want.digest, fmt.Sprintf("replica at TXID %s holds counter %d, the database %d", plan.TXID, got.counter, want.counter)
	})
}

// bothRestore restores the latest state and every state the files reach
// with `litestream restore` and `strata restore`; both must agree, and the
// latest must be want.
func bothRestore(t testing.TB, tg replicaTarget, want bankState) int {
	t.Helper()
	r := replica.New(tg.store)
	files, err := r.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	env := litestreamEnv(tg.env...)
	senv := cliEnv(t, tg.env...)
	dir := t.TempDir()
	txids := reachableTXIDs(files)
	for _, txid := range append([]ltx.TXID{0}, txids...) {
		a, b := filepath.Join(dir, "a.db"), filepath.Join(dir, "b.db")
		largs, sargs := []string{"restore", "-o", a}, []string{"restore", "-force", "-o", b}
		if txid != 0 {
			largs = append(largs, "-txid", txid.String())
			sargs = append(sargs, "-txid", txid.String())
		}
		litestream(t, env, append(largs, tg.url)...)
		strataOK(t, senv, dir, append(sargs, tg.url)...)
		la, sb := readFile(t, a), readFile(t, b)
		if la != sb {
			t.Errorf("TXID %s: litestream restores counter %d %s, strata %d %s", txid, la.counter, la.digest, sb.counter, sb.digest)
		}
		if txid == 0 && (sb.counter != want.counter || sb.digest != want.digest) {
			t.Errorf("latest: counter %d %s, the database has %d %s", sb.counter, sb.digest, want.counter, want.digest)
		}
		os.Remove(a)
	}
	return len(txids)
}

// strata compact compacts a replica that litestream replicate wrote (its
// own compaction off); then litestream restore and strata restore agree on
// every state, and litestream replicate goes on writing to it.
func TestStrataCompactsWhatLitestreamWrote(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			live := newLiveDB(t)
			r := replica.New(tg.store)
			// No levels: Litestream writes level 0 (and its first snapshot) only.
			noCompaction := "levels: []\nsnapshot:\n  interval: 1000h\n"
			stop := live.replicate(t, tg, noCompaction)
			for range 30 {
				live.transfer(t)
				time.Sleep(70 * time.Millisecond) // several syncs, several level-0 files
			}
			caughtUp(t, r, live.state(t))
			stop()
			before, err := r.Files(context.Background())
			if err != nil {
				t.Fatal(err)
			}

			senv := cliEnv(t, tg.env...)
			flags := []string{"compact", "-levels", "100ms,200ms,300ms", "-snapshot-interval", "300ms", "-l0-retention", "1ms", tg.url}
			var out string
			testenv.Eventually(t, 10*time.Second, func() (bool, string) {
				out += strataOK(t, senv, "", flags...).stdout
				files, err := r.Files(context.Background())
				if err != nil {
					return false, err.Error()
				}
				levels := map[int]bool{}
				for _, f := range files {
					levels[f.Level] = true
				}
				return levels[1] && levels[2] && levels[3] && strings.Contains(out, "into snapshot"), out
			})
			after, _ := r.Files(context.Background())
			n := bothRestore(t, tg, live.state(t))
			t.Logf("litestream wrote %d files; after strata compact %d; both tools agree on the latest state and %d more", len(before), len(after), n)

			// Litestream replicates on to the compacted replica.
			stop = live.replicate(t, tg, noCompaction)
			for range 10 {
				live.transfer(t)
				time.Sleep(20 * time.Millisecond)
			}
			caughtUp(t, r, live.state(t))
			stop()
			bothRestore(t, tg, live.state(t))
		})
	}
}

// strata reads a replica that Litestream compacted itself (levels 1 and 2,
// snapshots, level-0 retention): restore at every state agrees with
// litestream restore, and a query through the VFS gives the latest state.
func TestStrataReadsWhatLitestreamCompacted(t *testing.T) {
	t.Parallel()
	for _, tg := range targets(t) {
		t.Run(tg.name, func(t *testing.T) {
			t.Parallel()
			live := newLiveDB(t)
			r := replica.New(tg.store)
			cfg := "levels:\n  - interval: 1s\n  - interval: 2s\nsnapshot:\n  interval: 3s\n  retention: 1h\nl0-retention: 1s\nl0-retention-check-interval: 500ms\n"
			stop := live.replicate(t, tg, cfg)
			var levels map[int]int
			testenv.Eventually(t, 40*time.Second, func() (bool, string) {
				live.transfer(t)
				time.Sleep(20 * time.Millisecond)
				files, err := r.Files(context.Background())
				if err != nil {
					return false, err.Error()
				}
				levels = map[int]int{}
				for _, f := range files {
					levels[f.Level]++
				}
				return levels[1] > 1 && levels[2] > 0 && levels[9] > 1, fmt.Sprintf("files per level %v", levels)
			})
			caughtUp(t, r, live.state(t))
			stop()
			n := bothRestore(t, tg, live.state(t))
			db := openReplica(t, tg.url)
			got, err := readBank(db)
			if err != nil || got != live.state(t) {
				t.Errorf("query through the VFS: %+v, %v; want %+v", got, err, live.state(t))
			}
			t.Logf("Litestream compacted into %v; strata and litestream agree on the latest state and %d more", levels, n)
		})
	}
}
