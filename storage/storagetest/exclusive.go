// Package storagetest holds checks every storage backend must pass, run by
// each backend's own tests.
package storagetest

import (
	"context"
	"errors"
	"io"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
)

// ExclusiveWrites checks WriteNew: it creates a missing file, refuses an
// existing one with ErrExists (leaving it unchanged), and of several
// concurrent creators of one name exactly one wins.
func ExclusiveWrites(t *testing.T, st storage.ExclusiveWriter, b storage.Backend) {
	ctx := context.Background()
	f := storage.FileInfo{Level: 9, MinTXID: 1, MaxTXID: 1}
	if err := st.WriteNew(ctx, f, time.Now(), strings.NewReader("first")); err != nil {
		t.Fatalf("WriteNew of a new file: %v", err)
	}
	err := st.WriteNew(ctx, f, time.Now(), strings.NewReader("second"))
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("WriteNew over an existing file: %v, want ErrExists", err)
	}
	if got := read(t, b, f); got != "first" {
		t.Errorf("after a refused WriteNew the file holds %q, want %q", got, "first")
	}

	g := storage.FileInfo{Level: 0, MinTXID: 2, MaxTXID: 2}
	const writers = 8
	var wg sync.WaitGroup
	errs := make(chan error, writers)
	for i := range writers {
		wg.Go(func() {
			errs <- st.WriteNew(ctx, g, time.Now(), strings.NewReader(strings.Repeat("x", i+1)))
		})
	}
	wg.Wait()
	close(errs)
	won := 0
	for err := range errs {
		switch {
		case err == nil:
			won++
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("a losing WriteNew: %v, want ErrExists", err)
		}
	}
	if won != 1 {
		t.Errorf("%d of %d concurrent WriteNew calls succeeded, want exactly 1", won, writers)
	}
	files, err := b.List(ctx, 0, 0)
	if err != nil || len(files) != 1 {
		t.Errorf("level 0 after the race: %v, %v; want the one file", files, err)
	}
}

func read(t *testing.T, b storage.Backend, f storage.FileInfo) string {
	t.Helper()
	rc, err := b.ReadRange(context.Background(), f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(data)
}
