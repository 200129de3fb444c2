package replica_test

import (
	"testing"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// A file found corrupt is left out of plans for a while, then planned
// with (and so checked) again; found corrupt again, it waits twice as
// long, up to the limit. A file of another size is another file.
func TestBadFilesExpire(t *testing.T) {
	now := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
	b := replica.NewBadFiles(time.Minute, 3*time.Minute)
	b.SetClock(func() time.Time { return now })
	f := storage.FileInfo{Level: 0, MinTXID: 7, MaxTXID: 7, Size: 100}
	g := storage.FileInfo{Level: 0, MinTXID: 8, MaxTXID: 8, Size: 100}
	all := []storage.FileInfo{f, g}

	left := func(want bool, what string) {
		t.Helper()
		if got := b.Contains(f); got != want {
			t.Fatalf("%s: Contains = %v, want %v", what, got, want)
		}
		n := 1
		if want {
			n = 0
		}
		if got := b.Filter(all); len(got) != 1+n || got[len(got)-1] != g {
			t.Fatalf("%s: Filter = %v", what, got)
		}
	}
	left(false, "before Add")
	b.Add(f)
	left(true, "just added")
	if b.Len() != 1 {
		t.Errorf("Len = %d, want 1", b.Len())
	}
	now = now.Add(59 * time.Second)
	b.Add(f) // noticed again while waiting: no longer wait
	left(true, "59 s later")
	now = now.Add(time.Second)
	left(false, "a minute later")

	b.Add(f) // corrupt again: two minutes now
	now = now.Add(119 * time.Second)
	left(true, "1m59s after the second Add")
	now = now.Add(time.Second)
	left(false, "2 minutes after the second Add")

	b.Add(f) // four minutes, capped at three
	now = now.Add(3 * time.Minute)
	left(false, "3 minutes after the third Add (the limit)")

	b.Add(f)
	replaced := f
	replaced.Size = 101
	if b.Contains(replaced) {
		t.Error("a file of another size (replaced since) is still left out")
	}
	b.Forget(f)
	left(false, "after Forget")

	var none *replica.BadFiles
	if none.Contains(f) || len(none.Filter(all)) != 2 || none.Len() != 0 {
		t.Error("a nil *BadFiles is not empty")
	}
}
