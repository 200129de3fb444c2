package main

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// Without litestream the generator stops at once and says how to get it.
func TestMissingLitestreamSaysHowToInstall(t *testing.T) {
	t.Setenv("PATH", t.TempDir())
	t.Setenv("GOPATH", t.TempDir())
	_, err := findLitestream("")
	if err == nil || !strings.Contains(err.Error(), "go install github.com/benbjohnson/litestream/cmd/litestream@v0.5.18") {
		t.Fatalf("findLitestream without litestream: %v; want the install command", err)
	}
	fake := filepath.Join(t.TempDir(), "litestream")
	if err := os.WriteFile(fake, []byte("#!/bin/sh\necho v0.3.13\n"), 0o755); err != nil {
		t.Fatal(err)
	}
	if _, err := findLitestream(fake); err == nil || !strings.Contains(err.Error(), `"v0.3.13"`) {
		t.Fatalf("findLitestream(another version): %v; want an error naming it", err)
	}
}

// The stopped replica must hold one level-0 file per TXID up to the last
// state and nothing past it.
func TestCheckFinal(t *testing.T) {
	l0 := func(txids ...uint64) []replFile {
		var fs []replFile
		for _, x := range txids {
			fs = append(fs, replFile{level: 0, min: x, max: x})
		}
		return fs
	}
	for _, tc := range []struct {
		name  string
		files []replFile
		ok    bool
	}{
		{"complete", append(l0(1, 2, 3), replFile{1, 1, 3}, replFile{9, 1, 2}), true},
		{"a gap", l0(1, 3), false},
		{"past the last state", l0(1, 2, 3, 4), false},
		{"a compacted file past the last state", append(l0(1, 2, 3), replFile{1, 2, 4}), false},
		{"a level-0 file spanning TXIDs", append(l0(1, 2), replFile{0, 3, 3}, replFile{0, 2, 3}), false},
	} {
		if err := checkFinal(tc.files, 3); (err == nil) != tc.ok {
			t.Errorf("%s: checkFinal = %v, want ok=%v", tc.name, err, tc.ok)
		}
	}
}
