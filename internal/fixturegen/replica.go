package main

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"github.com/strata-db/strata/internal/fixture"
)

// replFile is one LTX file of the replica being written.
type replFile struct {
	level    int
	min, max uint64
}

func (f replFile) String() string { return fmt.Sprintf("L%d/%016x-%016x", f.level, f.min, f.max) }

func listReplica(dir string) ([]replFile, error) {
	files, err := fixture.ListFiles(dir)
	if err != nil {
		return nil, err
	}
	out := make([]replFile, len(files))
	for i, f := range files {
		out[i] = replFile{level: f.Level, min: uint64(f.MinTXID), max: uint64(f.MaxTXID)}
	}
	return out, nil
}

// has reports whether files hold a file at level ending at max.
func has(files []replFile, level int, max uint64) bool {
	for _, f := range files {
		if f.level == level && f.max == max {
			return true
		}
	}
	return false
}

// checkFinal checks the stopped replica: one level-0 file per TXID from 1
// to last and nothing beyond it at any level.
func checkFinal(files []replFile, last uint64) error {
	l0 := map[uint64]bool{}
	for _, f := range files {
		if f.max > last {
			return fmt.Errorf("%s is past the last state's TXID %016x", f, last)
		}
		if f.level == 0 {
			if f.min != f.max {
				return fmt.Errorf("%s spans several TXIDs", f)
			}
			l0[f.max] = true
		}
	}
	for txid := uint64(1); txid <= last; txid++ {
		if !l0[txid] {
			return fmt.Errorf("no level-0 file for TXID %016x (litestream's level-0 retention removed it?)", txid)
		}
	}
	return nil
}

// install replaces dst with the replica's LTX files and truth.json,
// leaving anything else in dst (its README) alone.
func install(src string, tr fixture.History, dst string, files []replFile) error {
	if err := os.MkdirAll(dst, 0o755); err != nil {
		return err
	}
	if err := os.RemoveAll(filepath.Join(dst, "replica")); err != nil {
		return err
	}
	if err := fixture.CopyDir(filepath.Join(src, "ltx"), filepath.Join(dst, "replica", "ltx")); err != nil {
		return err
	}
	// Litestream leaves nothing but LTX files in a file replica; anything
	// else (a temporary file of an interrupted write) must not be committed.
	var extra []string
	err := filepath.WalkDir(filepath.Join(dst, "replica"), func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() && !strings.HasSuffix(path, ".ltx") {
			extra = append(extra, path)
		}
		return err
	})
	if err != nil {
		return err
	}
	if len(extra) > 0 {
		return fmt.Errorf("replica holds files that are not LTX files: %v", extra)
	}
	if err := tr.Write(dst); err != nil {
		return err
	}
	var size int64
	filepath.WalkDir(dst, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				size += info.Size()
			}
		}
		return nil
	})
	levels := map[int]int{}
	for _, f := range files {
		levels[f.level]++
	}
	fmt.Fprintf(os.Stderr, "    wrote %s: %d states, files per level %v, %d KiB\n", dst, len(tr.States), levels, size>>10)
	return nil
}
