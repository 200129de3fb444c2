package replica_test

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// files builds a listing from short specs "L<level>:<min>[-<max>][@size]",
// e.g. "L9:1-5", "L0:6", "L1:6-8@5000". TXIDs are decimal; size defaults to
// 1000 bytes.
func files(t testing.TB, specs ...string) []storage.FileInfo {
	t.Helper()
	out := make([]storage.FileInfo, 0, len(specs))
	for _, s := range specs {
		out = append(out, fileSpec(t, s))
	}
	return out
}

func fileSpec(t testing.TB, s string) storage.FileInfo {
	t.Helper()
	f := storage.FileInfo{Size: 1000}
	rest, size, ok := strings.Cut(s, "@")
	if ok {
		n, err := strconv.ParseInt(size, 10, 64)
		if err != nil {
			t.Fatalf("bad spec %q", s)
		}
		f.Size = n
	}
	lvl, rng, ok := strings.Cut(strings.TrimPrefix(rest, "L"), ":")
	if !ok {
		t.Fatalf("bad spec %q", s)
	}
	lo, hi, ranged := strings.Cut(rng, "-")
	if !ranged {
		hi = lo
	}
	level, err1 := strconv.Atoi(lvl)
	minTXID, err2 := strconv.ParseUint(lo, 10, 64)
	maxTXID, err3 := strconv.ParseUint(hi, 10, 64)
	if err := errors.Join(err1, err2, err3); err != nil {
		t.Fatalf("bad spec %q: %v", s, err)
	}
	f.Level, f.MinTXID, f.MaxTXID = level, ltx.TXID(minTXID), ltx.TXID(maxTXID)
	return f
}

// spec is the inverse of fileSpec, without the size: how plans are compared.
func spec(f storage.FileInfo) string {
	if f.MinTXID == f.MaxTXID {
		return fmt.Sprintf("L%d:%d", f.Level, f.MinTXID)
	}
	return fmt.Sprintf("L%d:%d-%d", f.Level, f.MinTXID, f.MaxTXID)
}

// checkCoverage asserts the invariant of every plan: its files start at
// TXID 1 and cover each TXID up to plan.TXID exactly once, in order.
func checkCoverage(t testing.TB, p replica.Plan) {
	t.Helper()
	if len(p.Files) == 0 {
		t.Fatalf("plan for TXID %s has no files", p.TXID)
	}
	next := ltx.TXID(1)
	for _, f := range p.Files {
		if f.MinTXID != next {
			t.Fatalf("plan %v: %s starts at TXID %d, want %d (gap or overlap)", specs(p.Files), spec(f), f.MinTXID, next)
		}
		next = f.MaxTXID + 1
	}
	if next-1 != p.TXID {
		t.Fatalf("plan %v ends at TXID %d, plan.TXID is %d", specs(p.Files), next-1, p.TXID)
	}
}

func specs(fs []storage.FileInfo) []string {
	out := make([]string, len(fs))
	for i, f := range fs {
		out[i] = spec(f)
	}
	return out
}

func TestBuildPlan(t *testing.T) {
	tests := []struct {
		name   string
		files  []string
		target ltx.TXID // 0 = latest
		want   []string
		txid   ltx.TXID
	}{
		{
			name:  "latest: snapshot then the level-0 files after it",
			files: []string{"L9:1-5", "L0:1", "L0:2", "L0:3", "L0:4", "L0:5", "L0:6", "L0:7"},
			want:  []string{"L9:1-5", "L0:6", "L0:7"},
			txid:  7,
		},
		{
			name:  "snapshot, then a compacted level, then level 0",
			files: []string{"L9:1-5", "L1:6-8", "L0:6", "L0:7", "L0:8", "L0:9"},
			want:  []string{"L9:1-5", "L1:6-8", "L0:9"},
			txid:  9,
		},
		{
			name: "fewest files wins over fewest bytes",
			files: []string{"L9:1-2", "L1:3-10@50000",
				"L0:3", "L0:4", "L0:5", "L0:6", "L0:7", "L0:8", "L0:9", "L0:10"},
			want: []string{"L9:1-2", "L1:3-10"},
			txid: 10,
		},
		{
			name:  "the highest compacted level that fits is used",
			files: []string{"L9:1-2", "L1:3-4", "L1:5-6", "L1:7-8", "L2:3-8", "L0:9"},
			want:  []string{"L9:1-2", "L2:3-8", "L0:9"},
			txid:  9,
		},
		{
			name:  "equal file counts: fewer bytes wins",
			files: []string{"L9:1-4@9000", "L1:1-4@4000", "L0:5"},
			want:  []string{"L1:1-4", "L0:5"},
			txid:  5,
		},
		{
			name:   "target in the middle: a compacted file past the target is not used",
			files:  []string{"L9:1-5", "L1:6-8", "L0:6", "L0:7", "L0:8", "L0:9", "L0:10"},
			target: 7,
			want:   []string{"L9:1-5", "L0:6", "L0:7"},
			txid:   7,
		},
		{
			name:   "target at the end of a compacted file uses it",
			files:  []string{"L9:1-5", "L1:6-8", "L0:6", "L0:7", "L0:8", "L0:9", "L0:10"},
			target: 8,
			want:   []string{"L9:1-5", "L1:6-8"},
			txid:   8,
		},
		{
			name:   "target exactly at a snapshot",
			files:  []string{"L9:1-5", "L0:1", "L0:2", "L0:3", "L0:4", "L0:5", "L0:6"},
			target: 5,
			want:   []string{"L9:1-5"},
			txid:   5,
		},
		{
			name:   "newest snapshot at or before the target, not a later one",
			files:  []string{"L9:1-3", "L9:1-8", "L0:4", "L0:5", "L0:6", "L0:7", "L0:8", "L0:9", "L0:10"},
			target: 5,
			want:   []string{"L9:1-3", "L0:4", "L0:5"},
			txid:   5,
		},
		{
			name:  "latest uses the newest snapshot",
			files: []string{"L9:1-3", "L9:1-8", "L0:4", "L0:5", "L0:6", "L0:7", "L0:8", "L0:9", "L0:10"},
			want:  []string{"L9:1-8", "L0:9", "L0:10"},
			txid:  10,
		},
		{
			name:  "a gap in level 0 falls back to a level-1 file covering it",
			files: []string{"L9:1-3", "L0:4", "L0:6", "L0:7", "L1:4-6"},
			want:  []string{"L9:1-3", "L1:4-6", "L0:7"},
			txid:  7,
		},
		{
			name:  "no snapshot, but files from TXID 1: complete",
			files: []string{"L0:1", "L0:2", "L0:3", "L0:4"},
			want:  []string{"L0:1", "L0:2", "L0:3", "L0:4"},
			txid:  4,
		},
		{
			name:  "no snapshot, compacted file from TXID 1",
			files: []string{"L1:1-3", "L0:4"},
			want:  []string{"L1:1-3", "L0:4"},
			txid:  4,
		},
		{
			name:  "overlapping L1 [2-5] and L0 [3]: never both",
			files: []string{"L0:1", "L0:2", "L0:3", "L0:4", "L0:5", "L0:6", "L1:2-5"},
			want:  []string{"L0:1", "L1:2-5", "L0:6"},
			txid:  6,
		},
		{
			name:   "overlapping L1 [2-5] and L0 [3], target inside the L1 range",
			files:  []string{"L0:1", "L0:2", "L0:3", "L0:4", "L0:5", "L0:6", "L1:2-5"},
			target: 3,
			want:   []string{"L0:1", "L0:2", "L0:3"},
			txid:   3,
		},
		{
			name:  "overlapping L1 [2-5] and L0 [3] without L0 [2]: L0 [3] cannot be used",
			files: []string{"L0:1", "L0:3", "L0:4", "L0:5", "L0:6", "L1:2-5"},
			want:  []string{"L0:1", "L1:2-5", "L0:6"},
			txid:  6,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			in := files(t, tt.files...)
			// The order of a listing must not matter.
			for seed := range uint64(4) {
				rand.New(rand.NewPCG(seed, 1)).Shuffle(len(in), func(i, j int) { in[i], in[j] = in[j], in[i] })
				p, err := replica.BuildPlan(in, tt.target)
				if err != nil {
					t.Fatalf("BuildPlan(%v, %d): %v", tt.files, tt.target, err)
				}
				checkCoverage(t, p)
				if got := specs(p.Files); strings.Join(got, " ") != strings.Join(tt.want, " ") || p.TXID != tt.txid {
					t.Fatalf("BuildPlan(%v, %d) = %v at TXID %d, want %v at TXID %d", tt.files, tt.target, got, p.TXID, tt.want, tt.txid)
				}
			}
		})
	}
}

func TestBuildPlanErrors(t *testing.T) {
	tests := []struct {
		name    string
		files   []string
		target  ltx.TXID
		is      error
		mention []string // substrings the message must hold
	}{
		{
			name: "empty replica",
			is:   replica.ErrEmpty,
		},
		{
			name:    "gap in level 0 that nothing covers, target after it",
			files:   []string{"L9:1-3", "L0:4", "L0:6"},
			target:  6,
			is:      replica.ErrUnreachable,
			mention: []string{"0000000000000006", "0000000000000004"},
		},
		{
			name:    "gap in level 0 that nothing covers, latest",
			files:   []string{"L9:1-3", "L0:4", "L0:6", "L0:7"},
			is:      replica.ErrUnreachable,
			mention: []string{"gap", "0000000000000005", "0000000000000007"},
		},
		{
			name:    "target before the first snapshot",
			files:   []string{"L9:1-5", "L0:6", "L0:7"},
			target:  3,
			is:      replica.ErrUnreachable,
			mention: []string{"0000000000000003", "before"},
		},
		{
			name:    "no file starts at TXID 1",
			files:   []string{"L0:3", "L0:4"},
			is:      replica.ErrUnreachable,
			mention: []string{"TXID 1"},
		},
		{
			name:    "no file starts at TXID 1, explicit target",
			files:   []string{"L1:2-4", "L0:5"},
			target:  5,
			is:      replica.ErrUnreachable,
			mention: []string{"0000000000000005", "TXID 1"},
		},
		{
			name:   "TXID inside a compacted range",
			files:  []string{"L9:1-3", "L1:4-9", "L0:10", "L0:11"},
			target: 6,
			is:     replica.ErrUnreachable,
			mention: []string{"0000000000000006 was compacted away", "L1/0000000000000004-0000000000000009.ltx",
				"reachable TXIDs: 0000000000000003, 0000000000000009-000000000000000b"},
		},
		{
			name:    "TXID inside a compacted range, level 0 kept after a gap",
			files:   []string{"L9:1-2", "L2:3-20", "L0:15", "L0:21"},
			target:  15,
			is:      replica.ErrUnreachable,
			mention: []string{"compacted away", "L2/0000000000000003-0000000000000014.ltx", "0000000000000002, 0000000000000014-0000000000000015"},
		},
		{
			name:   "gap with reachable intervals",
			files:  []string{"L9:1-3", "L0:4", "L0:5", "L0:8", "L0:9"},
			target: 8,
			is:     replica.ErrUnreachable,
			mention: []string{"stops at TXID 0000000000000005", "no file starts at TXID 0000000000000006", "files are missing",
				"reachable TXIDs: 0000000000000003-0000000000000005"},
		},
		{
			name:    "target past the last file",
			files:   []string{"L9:1-3", "L0:4"},
			target:  9,
			is:      replica.ErrUnreachable,
			mention: []string{"0000000000000009", "0000000000000004"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			p, err := replica.BuildPlan(files(t, tt.files...), tt.target)
			if !errors.Is(err, tt.is) {
				t.Fatalf("BuildPlan(%v, %d) = %v, %v; want an error matching %v", tt.files, tt.target, specs(p.Files), err, tt.is)
			}
			t.Logf("error: %v", err)
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}
