package corruption_test

import (
	"os"
	"testing"

	"github.com/strata-db/strata/internal/ltxmutate"
)

// FuzzReadPath replaces one LTX file of a small replica (files read whole)
// with any bytes, then reads the latest state through the strata VFS and
// by restore: each must give exactly the latest state's data, or an error
// naming the replaced file. (Inputs larger than a whole read are skipped:
// frame data read by range is beyond what the format lets a reader check;
// TestCorruption counts those apart.)
//
// CI runs it for a few seconds (make test); `go test -fuzz FuzzReadPath
// ./internal/corruption` explores further.
func FuzzReadPath(f *testing.F) {
	c := buildCorpus(f, "fuzz", false, nil)
	for i, file := range c.files {
		b, err := os.ReadFile(fileName(c.dir, file))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(uint8(i), b)
		f.Add(uint8(i), b[:len(b)/2])
		f.Add(uint8(i), ltxmutate.Flip(b, len(b)/3, 2))
	}
	base := f.TempDir()
	want := c.truth[c.latest]
	f.Fuzz(func(t *testing.T, which uint8, data []byte) {
		if len(data) > readWhole {
			return
		}
		file := c.files[int(which)%len(c.files)]
		dir, err := os.MkdirTemp(base, "replica-")
		if err != nil {
			t.Fatal(err)
		}
		defer os.RemoveAll(dir)
		if err := os.CopyFS(dir, os.DirFS(c.dir)); err != nil {
			t.Fatal(err)
		}
		if err := os.WriteFile(fileName(dir, file), data, 0o644); err != nil {
			t.Fatal(err)
		}
		forgetLastError(t)
		sum, txid, err := queryVFS(t, dir)
		if o := judge(err, "", file, sum == want && txid == c.latest.String()); o != correct && o != named {
			t.Fatalf("query with %s replaced (%d bytes): %s: %v (TXID %s)", file, len(data), outcomeNames[o], err, txid)
		}
		plan, sum, err := restoreLatest(t, dir)
		if o := judge(err, dir, file, sum == want && plan.TXID == c.latest); o != correct && o != named {
			t.Fatalf("restore with %s replaced (%d bytes): %s: %v (TXID %s)", file, len(data), outcomeNames[o], err, plan.TXID)
		}

	})
}
