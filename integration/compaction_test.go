package integration

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// soakDuration is how long the compaction soak tests run: the issue asks
// for at least 60 s. STRATA_SOAK can shorten it for a quick local run.
func soakDuration(t testing.TB) time.Duration {
	if v := os.Getenv("STRATA_SOAK"); v != "" {
		d, err := time.ParseDuration(v)
		if err != nil {
			t.Fatalf("STRATA_SOAK=%q: %v", v, err)
		}
		return d
	}
	return 60 * time.Second
}

// The schedule of the soak tests: a minute behaves like days.
var soakCompaction = compact.Config{
	Levels:                   []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second},
	SnapshotInterval:         5 * time.Second,
	SnapshotRetention:        10 * time.Second,
	L0Retention:              time.Second,
	L0RetentionCheckInterval: 500 * time.Millisecond,
}

// soakFlags are soakCompaction as `strata compact` flags.
var soakFlags = []string{"-levels", "200ms,1s,3s", "-snapshot-interval", "5s", "-snapshot-retention", "10s", "-l0-retention", "1s"}

// The directory backend, with the compactor running in this process.
func TestCompactionSoakDirectory(t *testing.T) {
	t.Parallel()
	dir := filepath.Join(t.TempDir(), "replica")
	store, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	soak(t, store, "file://"+dir, func(ctx context.Context, wg *sync.WaitGroup, report func(error)) func() {
		cfg := soakCompaction
		cfg.Merge.TempDir = t.TempDir()
		cfg.OnPass = func(rep compact.Report) {
			for _, p := range rep.Problems {
				report(fmt.Errorf("compactor: %w", p))
			}
		}
		c := compact.New(replica.New(store), cfg)
		wg.Go(func() {
			if err := c.Run(ctx); err != nil {
				report(err)
			}
		})
		return func() {}
	})
}

// S3 (versitygw), compacted by two `strata compact -watch` processes at
// once, as two machines of a fleet would: exclusive creation decides which
// one writes each file, and neither reports an error.
func TestCompactionSoakS3TwoWatchProcesses(t *testing.T) {
	t.Parallel()
	srv := testenv.VersityGW(t)
	useS3Credentials()
	bucket := srv.CreateBucket(t, "soak")
	url := srv.URL(bucket, "bank")
	store := srv.Store(t, bucket, "bank")
	bin := strataBin(t)
	soak(t, store, url, func(ctx context.Context, wg *sync.WaitGroup, report func(error)) func() {
		var procs []*watchProc
		for i := range 2 {
			procs = append(procs, startWatch(t, bin, cliEnv(t, srv.Env()...), append(soakFlags, url), i))
		}
		return func() {
			for _, p := range procs {
				p.stop(t, report)
			}
			var exists int
			for _, p := range procs {
				exists += strings.Count(p.stdout.String(), "another compactor wrote it first")
			}
			t.Logf("the two processes found %d files written by the other first (lost races, not errors)", exists)
		}
	})
}

// useS3Credentials logs this process in to every test S3 server (they all
// share one account), for the VFS of parallel tests, which cannot use
// t.Setenv.
var useS3Credentials = sync.OnceFunc(func() {
	for _, kv := range (&testenv.S3Server{}).Env() {
		k, v, _ := strings.Cut(kv, "=")
		os.Setenv(k, v)
	}
})

// watchProc is a `strata compact -watch` child process.
type watchProc struct {
	cmd            *exec.Cmd
	stdout, stderr *lockedBuffer
	done           chan error
}

func startWatch(t testing.TB, bin string, env, args []string, i int) *watchProc {
	t.Helper()
	p := &watchProc{stdout: &lockedBuffer{}, stderr: &lockedBuffer{}, done: make(chan error, 1)}
	p.cmd = exec.Command(bin, append([]string{"compact", "-watch"}, args...)...)
	p.cmd.Env, p.cmd.Stdout, p.cmd.Stderr = env, p.stdout, p.stderr
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		t.Fatal(err)
	}
	go func() { p.done <- p.cmd.Wait() }()
	t.Cleanup(func() {
		_ = p.cmd.Process.Kill()
		<-p.done
		p.done <- nil
	})
	t.Logf("compactor process %d: pid %d", i, p.cmd.Process.Pid)
	return p
}

// stop interrupts the process as Ctrl-C would; it must exit 0 and have
// logged no problem.
func (p *watchProc) stop(t testing.TB, report func(error)) {
	_ = p.cmd.Process.Signal(os.Interrupt)
	var err error
	select {
	case err = <-p.done:
		p.done <- err
	case <-time.After(20 * time.Second):
		report(fmt.Errorf("pid %d did not stop within 20 s of SIGINT", p.cmd.Process.Pid))
		return
	}
	if err != nil {
		report(fmt.Errorf("pid %d: %v\nstderr:\n%s", p.cmd.Process.Pid, err, p.stderr.String()))
	}
	for _, line := range strings.Split(p.stderr.String(), "\n") {
		if strings.Contains(line, "level=WARN") || strings.Contains(line, "level=ERROR") {
			report(fmt.Errorf("pid %d logged: %s", p.cmd.Process.Pid, line))
		}
	}
}

// soak runs, for soakDuration, a writer committing transfers as fast as it
// can, compaction (started by compactors, which returns how to stop it),
// three readers that check the invariant and that every state they see is
// one the writer uploaded, never an older one than they saw before, a
// reader travelling in time (txid= and PRAGMA strata_time) to states still
// retained, and a checker listing the replica to see that the latest state
// the writer uploaded stays reachable (no deletion removed the only cover
// of a TXID). Then: no violation, no error surfaced to a reader, a bounded
// number of files, no level with overlapping files, and every state the
// files still reach restores to the truth.
func soak(t *testing.T, store storage.Backend, url string, compactors func(context.Context, *sync.WaitGroup, func(error)) func()) {
	b := newSoakBank(t, store)
	rep := replica.New(store)
	strataVFS(t)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	var wg sync.WaitGroup
	var problems []error
	var mu sync.Mutex
	report := func(err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(problems) < 50 {
			problems = append(problems, err)
		}
	}
	stopCompactors := compactors(ctx, &wg, report)

	var reads, travels, skipped, violations atomic.Int64
	readersCtx, stopReaders := context.WithCancel(ctx)
	for i := range 3 {
		wg.Go(func() {
			db := openReplica(t, url)
			var seen int64 = -1
			for readersCtx.Err() == nil {
				s, err := readBank(db)
				switch {
				case errors.Is(err, errInvariant):
					violations.Add(1)
					report(fmt.Errorf("reader %d: %w", i, err))
				case err != nil:
					files, _ := listLowToHigh(ctx, rep)
					_, perr := replica.BuildPlan(files, ltx.TXID(seen+1))
					report(fmt.Errorf("reader %d, last at TXID %d (still in the replica: %v), the writer at %s: %w (VFS: %v)",
						i, seen+1, perr == nil, b.w.TXID(), err, strataVFS(t).LastError()))
				case s.counter < seen:
					violations.Add(1)
					report(fmt.Errorf("reader %d went back in time: counter %d after %d", i, s.counter, seen))
				default:
					seen = s.counter
					if want, ok := b.state(ltx.TXID(s.counter + 1)); !ok || want.digest != s.digest {
						violations.Add(1)
						report(fmt.Errorf("reader %d: state at counter %d is not what the writer uploaded (digest %s, want %s)", i, s.counter, s.digest, want.digest))
					}
					reads.Add(1)
				}
				time.Sleep(5 * time.Millisecond) // readers, not a busy loop
			}
		})
	}
	var checks atomic.Int64
	wg.Go(func() { // coverage: the latest state stays reachable from the files
		for readersCtx.Err() == nil {
			floor := b.w.TXID()
			files, err := listLowToHigh(readersCtx, rep)
			if err != nil {
				if readersCtx.Err() == nil {
					report(err)
				}
				return
			}
			if plan, err := replica.BuildPlan(files, 0); err != nil || plan.TXID < floor {
				violations.Add(1)
				report(fmt.Errorf("coverage lost: the files reach TXID %s (%v), the writer had uploaded %s", plan.TXID, err, floor))
			}
			checks.Add(1)
			time.Sleep(200 * time.Millisecond)
		}
	})
	wg.Go(func() { // the time traveller
		rng := rand.New(rand.NewPCG(3, 4))
		for readersCtx.Err() == nil {
			ok, err := travel(readersCtx, t, url, rep, b, rng)
			switch {
			case err != nil && readersCtx.Err() == nil:
				violations.Add(1)
				report(err)
			case ok:
				travels.Add(1)
			default:
				skipped.Add(1)
			}
			time.Sleep(100 * time.Millisecond)
		}
	})

	deadline := time.Now().Add(soakDuration(t))
	for time.Now().Before(deadline) {
		if err := b.transfer(); err != nil {
			t.Fatalf("writer: %v", err)
		}
	}
	stopReaders()
	end := time.Now()
	stopCompactors()
	cancel()
	wg.Wait()
	for _, err := range problems {
		t.Error(err)
	}
	if violations.Load() != 0 {
		t.Errorf("%d violations", violations.Load())
	}
	if reads.Load() < 100 || travels.Load() < 5 {
		t.Errorf("only %d reads and %d trips in time: the test tested little", reads.Load(), travels.Load())
	}

	// Two compactors that raced may both have written a file; a pass
	// deletes the duplicate once it is older than the level-0 retention.
	var files []storage.FileInfo
	final := compact.New(rep, soakCompaction)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		if _, err := final.Pass(context.Background(), compact.PassOptions{}); err != nil {
			return false, err.Error()
		}
		var err error
		if files, err = rep.Files(context.Background()); err != nil {
			return false, err.Error()
		}
		msg := overlaps(files)
		return msg == "", msg
	})
	checkBound(t, files, b, end)
	plan, err := replica.BuildPlan(files, 0)
	if err != nil || plan.TXID != b.w.TXID() {
		t.Fatalf("latest state: plan to %s, %v; the writer is at %s", plan.TXID, err, b.w.TXID())
	}
	dir := t.TempDir()
	txids := reachableTXIDs(files)
	for _, txid := range txids {
		want, _ := b.state(txid)
		if got := restoreState(t, rep, files, txid, dir); got.digest != want.digest || got.counter != want.counter {
			t.Errorf("restore at TXID %s: counter %d %s, want %d %s", txid, got.counter, got.digest, want.counter, want.digest)
		}
	}
	t.Logf("%s: %d commits, %d reads, %d trips in time (%d skipped: state no longer retained), %d coverage checks, %d violations; %d files at the end, %d states restored and compared with the truth",
		url, b.w.TXID(), reads.Load(), travels.Load(), skipped.Load(), checks.Load(), violations.Load(), len(files), len(txids))
}

// travel opens a random state the files still reach, by TXID (URI) or by
// its commit time (PRAGMA strata_time), and compares it with the truth. It
// reports false if retention removed the state before it could be read.
func travel(ctx context.Context, t testing.TB, url string, rep *replica.Replica, b *soakBank, rng *rand.Rand) (bool, error) {
	files, err := listLowToHigh(ctx, rep)
	if err != nil {
		return false, err
	}
	txids := reachableTXIDs(files)
	if len(txids) == 0 {
		return false, nil
	}
	txid := txids[rng.IntN(len(txids))]
	want, _ := b.state(txid)
	next, ok := b.state(txid + 1)
	byTime := rng.IntN(2) == 0 && ok && next.at.After(want.at) // a time that names txid alone
	db, err := openReplicaErr(url)
	if err != nil {
		return false, err
	}
	defer db.Close()
	c, err := db.Conn(ctx)
	if err != nil {
		return false, err
	}
	defer c.Close()
	how := "txid=" + txid.String()
	var got bankState
	if byTime {
		how = "strata_time=" + want.at.UTC().Format(time.RFC3339Nano)
		_, err = c.ExecContext(ctx, `pragma strata_time = '`+want.at.UTC().Format(time.RFC3339Nano)+`'`)
		if err == nil {
			got, err = readBank(c)
		}
	} else {
		db2, err2 := openReplicaErr(url, "txid", txid.String())
		if err2 != nil {
			return false, err2
		}
		defer db2.Close()
		got, err = readBank(db2)
	}
	if err == nil && got.counter == want.counter && got.digest == want.digest {
		return true, nil
	}
	// Retention may have removed that state meanwhile. Then opening it by
	// TXID fails, and by time gives the last state before it the files
	// still reach; anything else is a failure.
	now, lerr := listLowToHigh(ctx, rep)
	if lerr != nil {
		return false, lerr
	}
	_, perr := replica.BuildPlan(now, txid)
	gone := perr != nil
	switch {
	case err != nil && gone:
		return false, nil
	case err != nil:
		return false, fmt.Errorf("time travel to %s, a state the files still reach: %w (VFS: %v)", how, err, strataVFS(t).LastError())
	case byTime && gone && got.counter < want.counter:
		if earlier, ok := b.state(ltx.TXID(got.counter + 1)); ok && earlier.digest == got.digest {
			return false, nil
		}
	}
	return false, fmt.Errorf("time travel to %s: counter %d %s, want %d %s", how, got.counter, got.digest, want.counter, want.digest)
}

// checkBound checks the number of files against what the rules allow at
// the end of the run: level-0 files committed within the level-0 retention
// plus a level-1 interval and a check interval; per compacted level, what
// accumulates between two snapshot retentions (retention + 2 snapshot
// intervals, over the level's interval); snapshots for the retention.
func checkBound(t testing.TB, files []storage.FileInfo, b *soakBank, end time.Time) {
	t.Helper()
	cfg := soakCompaction
	count := map[int]int{}
	for _, f := range files {
		count[f.Level]++
	}
	window := cfg.L0Retention + cfg.Levels[0] + cfg.L0RetentionCheckInterval + time.Second
	recent := 0
	b.mu.Lock()
	for _, s := range b.states {
		if s.at.After(end.Add(-window)) {
			recent++
		}
	}
	b.mu.Unlock()
	bound := map[int]int{0: recent + 2, 9: int(cfg.SnapshotRetention/cfg.SnapshotInterval) + 2}
	span := cfg.SnapshotRetention + 2*cfg.SnapshotInterval
	for i, d := range cfg.Levels {
		bound[i+1] = int(span/d) + 2
	}
	total := 0
	for level, n := range count {
		if n > bound[level] {
			t.Errorf("level %d holds %d files, more than the bound %d", level, n, bound[level])
		}
		total += bound[level]
	}
	t.Logf("files per level %v, bounds %v (at most %d in all; %d commits would be as many level-0 files without compaction)", count, bound, total, b.w.TXID())
}
