package storage_test

import (
	"testing"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// The two layouts are Litestream 0.5's: decimal levels under ltx/ (file,
// GCS, Azure), four hex digits at the root (S3).
func TestLayoutPaths(t *testing.T) {
	f := storage.FileInfo{Level: 10 - 1, MinTXID: 1, MaxTXID: 0x2a}
	for layout, want := range map[storage.Layout]string{
		storage.LayoutFile: "ltx/9/0000000000000001-000000000000002a.ltx",
		storage.LayoutS3:   "0009/0000000000000001-000000000000002a.ltx",
	} {
		if got := layout.Path(f); got != want {
			t.Errorf("%s: Path = %q, want %q", layout, got, want)
		}
		back, ok := layout.ParsePath(want)
		if !ok || back.Key() != f.Key() {
			t.Errorf("%s: ParsePath(%q) = %v, %v", layout, want, back, ok)
		}
	}
	for layout, bad := range map[storage.Layout][]string{
		storage.LayoutFile: {"ltx/09/0000000000000001-0000000000000001.ltx", "ltx/10/0000000000000001-0000000000000001.ltx",
			"ltx/0/notes.txt", "0000/0000000000000001-0000000000000001.ltx", "ltx/0/x/0000000000000001-0000000000000001.ltx", "strata-head.json"},
		storage.LayoutS3: {"000a/0000000000000001-0000000000000001.ltx", "0/0000000000000001-0000000000000001.ltx",
			"ltx/0/0000000000000001-0000000000000001.ltx", "0000/notes.txt", "strata-head.json"},
	} {
		for _, p := range bad {
			if f, ok := layout.ParsePath(p); ok {
				t.Errorf("%s: ParsePath(%q) = %v, want it refused", layout, p, f)
			}
		}
	}
}

// StartAfter sorts after every name of the level with MinTXID < from and
// before every name with MinTXID >= from.
func TestStartAfter(t *testing.T) {
	const from = ltx.TXID(0x30)
	for _, layout := range []storage.Layout{storage.LayoutFile, storage.LayoutS3} {
		after := layout.StartAfter(0, from)
		for _, f := range []storage.FileInfo{{MinTXID: from - 1, MaxTXID: from - 1}, {MinTXID: 1, MaxTXID: from + 5}} {
			if p := layout.Path(f); p > after {
				t.Errorf("%s: %s sorts after StartAfter %s", layout, p, after)
			}
		}
		for _, f := range []storage.FileInfo{{MinTXID: from, MaxTXID: from}, {MinTXID: from + 1, MaxTXID: from + 9}} {
			if p := layout.Path(f); p <= after {
				t.Errorf("%s: %s sorts before StartAfter %s", layout, p, after)
			}
		}
		if layout.StartAfter(0, 1) != "" || layout.StartAfter(0, 0) != "" {
			t.Errorf("%s: StartAfter from 0 or 1 should list from the start", layout)
		}
	}
}
