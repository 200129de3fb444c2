package compact

import (
	"fmt"
	"slices"
	"testing"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

func files(level int, ranges ...[2]ltx.TXID) []storage.FileInfo {
	var out []storage.FileInfo
	for _, r := range ranges {
		out = append(out, storage.FileInfo{Level: level, MinTXID: r[0], MaxTXID: r[1]})
	}
	return out
}

func fmtRanges(rs []txRange) string {
	var s []string
	for _, r := range rs {
		s = append(s, fmt.Sprintf("%d-%d", r.lo, r.hi))
	}
	return fmt.Sprint(s)
}

// Coverage joins ranges that overlap or touch; uncovered is what the
// second coverage lacks of the first within bounds.
func TestCoverage(t *testing.T) {
	cov := coverage(files(1, [2]ltx.TXID{5, 9}, [2]ltx.TXID{1, 3}, [2]ltx.TXID{4, 4}, [2]ltx.TXID{12, 20}, [2]ltx.TXID{15, 16}))
	if got := fmtRanges(cov); got != "[1-9 12-20]" {
		t.Fatalf("coverage %s", got)
	}
	for _, c := range []struct {
		lo, hi ltx.TXID
		want   bool
	}{{1, 9, true}, {2, 2, true}, {9, 12, false}, {10, 10, false}, {12, 20, true}, {20, 21, false}} {
		if got := covered(cov, c.lo, c.hi); got != c.want {
			t.Errorf("covered(%d-%d) = %v", c.lo, c.hi, got)
		}
	}
	after := coverage(files(1, [2]ltx.TXID{1, 2}, [2]ltx.TXID{5, 7}, [2]ltx.TXID{14, 30}))
	if got := fmtRanges(uncovered(cov, after, 2, 18)); got != "[3-4 8-9 12-13]" {
		t.Errorf("uncovered %s", got)
	}
	if got := uncovered(cov, cov, 1, 100); len(got) != 0 {
		t.Errorf("nothing lost, got %s", fmtRanges(got))
	}
}

// cover walks from start to end choosing, at each TXID, the file that
// starts exactly there and goes furthest without passing end; a file that
// starts earlier only when none starts there; it stops at a gap.
func TestCover(t *testing.T) {
	fs := append(files(0, [2]ltx.TXID{1, 1}, [2]ltx.TXID{2, 2}, [2]ltx.TXID{3, 3}, [2]ltx.TXID{4, 4}, [2]ltx.TXID{6, 6}),
		files(1, [2]ltx.TXID{1, 3}, [2]ltx.TXID{2, 5})...)
	storage.SortFiles(fs)
	chain, _, ok := cover(fs, 1, 6)
	want := "[L1/0000000000000001-0000000000000003.ltx L0/0000000000000004-0000000000000004.ltx L1/0000000000000002-0000000000000005.ltx L0/0000000000000006-0000000000000006.ltx]"
	if !ok || fmt.Sprint(names(chain)) != want {
		t.Errorf("cover 1-6: %v, %v; want %s", names(chain), ok, want)
	}
	noStraddle := slices.DeleteFunc(slices.Clone(fs), func(f storage.FileInfo) bool { return f.MinTXID == 2 && f.MaxTXID == 5 })
	chain, stop, ok := cover(noStraddle, 1, 6) // nothing holds 5
	if ok || stop != 5 || len(chain) != 2 {
		t.Errorf("cover 1-6 without 2-5: %v, stop %d, ok %v", names(chain), stop, ok)
	}
	chain, _, ok = cover(fs, 2, 5)
	if !ok || len(chain) != 1 || chain[0].Level != 1 {
		t.Errorf("cover 2-5: %v, %v", names(chain), ok)
	}
}

// longestChain keeps, of a level holding duplicates, the chain of files
// that reaches furthest: here the smaller of two files with one start,
// because only it is continued.
func TestLongestChain(t *testing.T) {
	fs := files(1, [2]ltx.TXID{1, 4}, [2]ltx.TXID{5, 6}, [2]ltx.TXID{5, 7}, [2]ltx.TXID{7, 9}, [2]ltx.TXID{10, 12})
	got := names(longestChain(fs))
	want := []string{"L1/0000000000000001-0000000000000004.ltx", "L1/0000000000000005-0000000000000006.ltx",
		"L1/0000000000000007-0000000000000009.ltx", "L1/000000000000000a-000000000000000c.ltx"}
	if !slices.Equal(got, want) {
		t.Errorf("longest chain %v, want %v", got, want)
	}
}

func names(fs []storage.FileInfo) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = f.String()
	}
	return out
}
