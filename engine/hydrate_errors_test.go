package engine

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/internal/testenv"
)

// A file another process hydrates is not taken over: hydration is off for
// this one, which says why, and its reads are remote.
func TestHydrationFileInUseElsewhere(t *testing.T) {
	e := newHydrateEnv(t, 100)
	first := e.open()
	waitHydrated(t, first)

	second, err := OpenStore(context.Background(), e.store, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer second.Close()
	if err := second.Hydrate(e.path); err != nil {
		t.Fatalf("hydrating a file in use: %v; want hydration off for this process, not an error", err)
	}
	p := second.Hydration()
	if p.State != HydrationFailed || !strings.Contains(p.Error, "in use") {
		t.Errorf("progress %s: want failed, saying the file is in use", p.JSON())
	}
	before := e.store.counts()
	readAll(t, second, second.Latest(), e.image())
	if e.store.counts().sub(before).reads == 0 {
		t.Error("the second process read nothing remotely: did it use a file it does not own?")
	}
}

// A path that cannot be created is an error that names it.
func TestHydrationUnwritablePath(t *testing.T) {
	e := newHydrateEnv(t, 10)
	db, err := OpenStore(context.Background(), e.store, Options{PollInterval: time.Hour})
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	notDir := filepath.Join(t.TempDir(), "file")
	if err := os.WriteFile(notDir, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(notDir, "sub", "db")
	err = db.Hydrate(path)
	var fe *hydrate.FileError
	if !errors.As(err, &fe) || !strings.Contains(err.Error(), notDir) {
		t.Errorf("hydrating to %s: %v, want a file error naming the path", path, err)
	}
}

// When the file cannot grow (a full disk; here a file size limit, which
// fails writes the same way without filling a disk), hydration stops,
// says why, and reads go on remotely.
func TestHydrationStopsWhenTheFileCannotGrow(t *testing.T) {
	e := newHydrateEnv(t, 300) // about 1.2 MB
	var old syscall.Rlimit
	if err := syscall.Getrlimit(syscall.RLIMIT_FSIZE, &old); err != nil {
		t.Fatal(err)
	}
	// Go ignores SIGXFSZ: a write past the limit fails with EFBIG.
	limit := old
	limit.Cur = 256 << 10
	if err := syscall.Setrlimit(syscall.RLIMIT_FSIZE, &limit); err != nil {
		t.Fatal(err)
	}
	defer syscall.Setrlimit(syscall.RLIMIT_FSIZE, &old)

	db := e.open()
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		p := db.Hydration()
		return p.State == HydrationFailed, "progress " + p.JSON()
	})
	p := db.Hydration()
	if !strings.Contains(p.Error, e.path) || !strings.Contains(p.Error, "file too large") {
		t.Errorf("progress %s: want the error naming the file and the failure", p.JSON())
	}
	readAll(t, db, db.Latest(), e.image())
	if p := db.Hydration(); p.Reads != 0 {
		t.Errorf("%d reads came from a file that failed", p.Reads)
	}
}
