package compact_test

import (
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"slices"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// errCrash is what a store that "crashed" answers.
var errCrash = errors.New("the process died here (injected)")

// crashStore dies at its n-th change to storage: an upload stops halfway
// (nothing is published, as with a real crash), a deletion of several
// files removes the first half of them; every later change fails, as
// nothing runs after a crash.
type crashStore struct {
	storage.Backend
	at int

	mu      sync.Mutex
	n       int
	crashed bool
}

func (s *crashStore) next() (crashNow, dead bool) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.crashed {
		return false, true
	}
	s.n++
	if s.n == s.at {
		s.crashed = true
		return true, false
	}
	return false, false
}

func (s *crashStore) Write(ctx context.Context, f storage.FileInfo, ts time.Time, r io.Reader) error {
	if crash, dead := s.next(); crash || dead {
		_, _ = io.CopyN(io.Discard, r, 100)
		return errCrash
	}
	return s.Backend.Write(ctx, f, ts, r)
}

func (s *crashStore) WriteNew(ctx context.Context, f storage.FileInfo, ts time.Time, r io.Reader) error {
	if crash, dead := s.next(); crash || dead {
		_, _ = io.CopyN(io.Discard, r, 100)
		return errCrash
	}
	return s.Backend.(storage.ExclusiveWriter).WriteNew(ctx, f, ts, r)
}

func (s *crashStore) Delete(ctx context.Context, files []storage.FileInfo) error {
	crash, dead := s.next()
	switch {
	case dead:
		return errCrash
	case crash:
		_ = s.Backend.Delete(ctx, files[:len(files)/2])
		return errCrash
	}
	return s.Backend.Delete(ctx, files)
}

func (s *crashStore) changes() int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.n
}

// copyDir copies a replica directory, keeping modification times (which
// retention reads).
func copyDir(t testing.TB, src, dst string) {
	t.Helper()
	err := filepath.Walk(src, func(path string, info os.FileInfo, err error) error {
		if err != nil {
			return err
		}
		rel, _ := filepath.Rel(src, path)
		to := filepath.Join(dst, rel)
		if info.IsDir() {
			return os.MkdirAll(to, 0o755)
		}
		b, err := os.ReadFile(path)
		if err != nil {
			return err
		}
		if err := os.WriteFile(to, b, 0o644); err != nil {
			return err
		}
		return os.Chtimes(to, info.ModTime(), info.ModTime())
	})
	if err != nil {
		t.Fatal(err)
	}
}

// A pass that dies at any of its changes to storage (an upload halfway, a
// deletion of many files halfway) leaves a replica whose every state
// restores correctly, and the next pass finishes the job: it ends with the
// files an uninterrupted pass leaves.
func TestCrashAtAnyPointThenRerunFinishesTheJob(t *testing.T) {
	t.Parallel()
	e := newEnv(t)
	cfg := shortDays
	e.commits(15, 30*time.Second)
	if _, err := e.compactor(cfg).Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	}
	e.commits(20, 2*time.Minute)
	pass(t, e.compactor(cfg))
	e.clock.Advance(3 * time.Hour)
	e.commits(20, 40*time.Second) // much to do: levels, a snapshot, retention
	e.clock.Advance(time.Minute)
	base := filepath.Join(t.TempDir(), "base")
	copyDir(t, e.store.(*filestore.Store).Dir(), base)

	open := func(t *testing.T, dir string) (*filestore.Store, *env) {
		st, err := filestore.New(dir)
		if err != nil {
			t.Fatal(err)
		}
		copy := *e
		copy.store = st
		copy.rep = replica.New(st)
		copy.rep.Retry = fastRetry
		return st, &copy
	}

	refDir := filepath.Join(t.TempDir(), "ref")
	copyDir(t, base, refDir)
	refStore, ref := open(t, refDir)
	counter := &crashStore{Backend: refStore, at: -1}
	refRep := replica.New(counter)
	refRep.Retry = fastRetry
	cfg.Now, cfg.Merge.TempDir = e.clock.Now, t.TempDir()
	if _, err := compact.New(refRep, cfg).Pass(context.Background(), compact.PassOptions{}); err != nil {
		t.Fatal(err)
	}
	want := names(ref.files())
	changes := counter.changes()
	if changes < 5 {
		t.Fatalf("the pass made only %d changes: the test tests little", changes)
	}

	for at := 1; at <= changes; at++ {
		dir := filepath.Join(t.TempDir(), "crash")
		copyDir(t, base, dir)
		st, crashed := open(t, dir)
		dying := replica.New(&crashStore{Backend: st, at: at})
		dying.Retry = fastRetry
		_, err := compact.New(dying, cfg).Pass(context.Background(), compact.PassOptions{})
		if !errors.Is(err, errCrash) {
			t.Fatalf("crash at change %d: pass said %v", at, err)
		}
		// The replica as the crash left it: the latest state restores.
		files := crashed.files()
		latest, err := replica.BuildPlan(files, 0)
		if err != nil {
			t.Fatalf("crash at change %d: latest state unreachable: %v", at, err)
		}
		crashed.restoreEquals(t, files, latest.TXID, t.TempDir())
		again := compact.New(crashed.rep, cfg)
		if _, err := again.Pass(context.Background(), compact.PassOptions{}); err != nil {
			t.Fatalf("crash at change %d, then a pass: %v", at, err)
		}
		if got := names(crashed.files()); !slices.Equal(got, want) {
			t.Fatalf("crash at change %d, then a pass: files\n%v\nwant (as without the crash)\n%v", at, got, want)
		}
	}
	ref.checkRestores(t)
	t.Logf("crashed at each of %d changes; each time the next pass finished the job", changes)
}
