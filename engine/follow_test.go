package engine

import (
	"fmt"
	"strings"
	"testing"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

func names(files []storage.FileInfo) string {
	var s []string
	for _, f := range files {
		s = append(s, fmt.Sprintf("L%d:%d-%d", f.Level, f.MinTXID, f.MaxTXID))
	}
	return strings.Join(s, " ")
}

// extend chains what continues the current TXID: level-0 files while they
// are contiguous, a level-1 file across a level-0 gap, nothing past a gap
// nobody covers, and never a file that ends at or before the current TXID.
func TestExtend(t *testing.T) {
	for _, tc := range []struct {
		name   string
		txid   ltx.TXID
		l0, l1 []storage.FileInfo
		want   string
	}{
		{"contiguous level 0", 3, []storage.FileInfo{fi(0, 4, 4), fi(0, 5, 5), fi(0, 6, 6)}, nil, "L0:4-4 L0:5-5 L0:6-6"},
		{"level 0 first, level 1 across the gap after it", 3, []storage.FileInfo{fi(0, 4, 4)}, []storage.FileInfo{fi(1, 4, 6)}, "L0:4-4 L1:4-6"},
		{"level 0 preferred while contiguous", 3, []storage.FileInfo{fi(0, 4, 4), fi(0, 5, 5), fi(0, 6, 6)}, []storage.FileInfo{fi(1, 4, 6)}, "L0:4-4 L0:5-5 L0:6-6"},
		{"gap at level 0", 3, []storage.FileInfo{fi(0, 5, 5), fi(0, 6, 6)}, []storage.FileInfo{fi(1, 4, 6)}, "L1:4-6"},
		{"level 1 then level 0 again", 3, []storage.FileInfo{fi(0, 7, 7), fi(0, 8, 8)}, []storage.FileInfo{fi(1, 4, 6)}, "L1:4-6 L0:7-7 L0:8-8"},
		{"level 1 overlapping what we have", 3, nil, []storage.FileInfo{fi(1, 2, 5)}, "L1:2-5"},
		{"largest level-1 file", 3, nil, []storage.FileInfo{fi(1, 4, 5), fi(1, 4, 8)}, "L1:4-8"},
		{"late level-1 file", 6, nil, []storage.FileInfo{fi(1, 2, 5), fi(1, 2, 6)}, ""},
		{"gap nobody covers", 3, []storage.FileInfo{fi(0, 5, 5)}, []storage.FileInfo{fi(1, 6, 9)}, ""},
		{"nothing new", 3, nil, nil, ""},
	} {
		t.Run(tc.name, func(t *testing.T) {
			if got := names(extend(tc.txid, tc.l0, tc.l1)); got != tc.want {
				t.Errorf("extend(%d, %s | %s) = %q, want %q", tc.txid, names(tc.l0), names(tc.l1), got, tc.want)
			}
		})
	}
}

// nextL1 starts the level-1 listing after the last level-1 file that ends
// at or before the current TXID, so the file covering the next TXID is
// still listed.
func TestNextL1(t *testing.T) {
	files := []storage.FileInfo{fi(0, 1, 1), fi(1, 1, 3), fi(1, 4, 6), fi(1, 7, 9)}
	for _, tc := range []struct{ txid, want ltx.TXID }{{0, 0}, {2, 0}, {3, 4}, {6, 7}, {8, 7}, {9, 10}} {
		if got := nextL1(files, tc.txid); got != tc.want {
			t.Errorf("nextL1(TXID %d) = %d, want %d", tc.txid, got, tc.want)
		}
	}
}
