package replica

import (
	"errors"
	"fmt"
	"slices"
	"sort"
	"strings"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Plan is the ordered list of files whose pages, applied in order (later
// files win), give the database at TXID.
type Plan struct {
	Files []storage.FileInfo
	TXID  ltx.TXID
	// Warnings says what the caller should pass on to the user: commit
	// times that go back (*TimestampOrderError), files left out because
	// they are corrupt (*CorruptError, see PlanAround).
	Warnings []error
}

// ErrEmpty is returned when a replica has no LTX files at all.
var ErrEmpty = errors.New("replica is empty (no LTX files)")

// ErrUnreachable is matched by errors for targets no chain of files reaches.
var ErrUnreachable = errors.New("target TXID unreachable")

// step is the best known way to reach one TXID: how many files it takes,
// how many bytes they weigh, and the last file of the chain.
type step struct {
	files int
	bytes int64
	last  storage.FileInfo
	prev  ltx.TXID
}

func (s step) better(o step) bool {
	if s.files != o.files {
		return s.files < o.files
	}
	return s.bytes < o.bytes
}

// BuildPlan chooses the files that reach target (0 = the latest TXID) with
// the fewest files, then the fewest bytes: the newest snapshot at or before
// the target, then the largest compacted ranges, then level-0 files. Every
// TXID is covered exactly once: a file may only follow the file that ends
// just before its MinTXID.
func BuildPlan(files []storage.FileInfo, target ltx.TXID) (Plan, error) {
	if len(files) == 0 {
		return Plan{}, ErrEmpty
	}
	sorted := append([]storage.FileInfo(nil), files...)
	sort.Slice(sorted, func(i, j int) bool { return sorted[i].MinTXID < sorted[j].MinTXID })

	// A file [min,max] is an edge from TXID min-1 to max. Visiting files by
	// MinTXID settles every node before an edge leaves it, because an edge
	// into node n starts at or before n-1.
	best := map[ltx.TXID]step{0: {}}
	for _, f := range sorted {
		if f.MinTXID == 0 || f.MaxTXID < f.MinTXID || (target != 0 && f.MaxTXID > target) {
			continue
		}
		from, ok := best[f.MinTXID-1]
		if !ok {
			continue
		}
		cand := step{files: from.files + 1, bytes: from.bytes + f.Size, last: f, prev: f.MinTXID - 1}
		if cur, ok := best[f.MaxTXID]; !ok || cand.better(cur) {
			best[f.MaxTXID] = cand
		}
	}

	if target == 0 {
		latest, err := latestReachable(sorted, best)
		if err != nil {
			return Plan{}, err
		}
		target = latest
	}
	if _, ok := best[target]; !ok || target == 0 {
		return Plan{}, unreachable(sorted, best, target)
	}
	return Plan{Files: chain(best, target), TXID: target}, nil
}

func chain(best map[ltx.TXID]step, target ltx.TXID) []storage.FileInfo {
	var out []storage.FileInfo
	for txid := target; txid != 0; txid = best[txid].prev {
		out = append(out, best[txid].last)
	}
	for i, j := 0, len(out)-1; i < j; i, j = i+1, j-1 {
		out[i], out[j] = out[j], out[i]
	}
	return out
}

// latestReachable is the highest TXID a chain reaches. Files beyond it mean
// the replica has a gap, which is an error rather than a silent rewind.
func latestReachable(sorted []storage.FileInfo, best map[ltx.TXID]step) (ltx.TXID, error) {
	var reach, highest ltx.TXID
	for txid := range best {
		reach = max(reach, txid)
	}
	for _, f := range sorted {
		highest = max(highest, f.MaxTXID)
	}
	if reach == 0 {
		return 0, unreachable(sorted, best, highest)
	}
	if highest > reach {
		i := slices.IndexFunc(sorted, func(f storage.FileInfo) bool { return f.MinTXID > reach })
		if i < 0 {
			i = slices.IndexFunc(sorted, func(f storage.FileInfo) bool { return f.MaxTXID > reach })
		}
		next := sorted[i] // sorted by MinTXID: the first file past the gap
		return 0, fmt.Errorf("%w: replica has a gap after TXID %s: files go up to %s but no file starts at %s (the next one is %s)",
			ErrUnreachable, reach, highest, reach+1, next)
	}
	return reach, nil
}

func unreachable(sorted []storage.FileInfo, best map[ltx.TXID]step, target ltx.TXID) error {
	var last, oldest ltx.TXID // oldest: the earliest state a full file holds
	for _, f := range sorted {
		last = max(last, f.MaxTXID)
		if f.MinTXID == 1 && (oldest == 0 || f.MaxTXID < oldest) {
			oldest = f.MaxTXID
		}
	}
	if oldest == 0 {
		return fmt.Errorf("%w: TXID %s: no snapshot and no file starting at TXID 1", ErrUnreachable, target)
	}
	reach := reachable(sorted)
	kept := "reachable TXIDs: " + formatRuns(reach)
	switch {
	case target > last:
		return fmt.Errorf("%w: TXID %s: the replica ends at TXID %s; %s", ErrUnreachable, target, last, kept)
	case target < oldest:
		return fmt.Errorf("%w: TXID %s is before the oldest state the replica keeps (TXID %s, its earliest snapshot): earlier states were compacted away; %s",
			ErrUnreachable, target, oldest, kept)
	}
	if c, ok := compactedOver(sorted, reach, target); ok {
		return fmt.Errorf("%w: TXID %s was compacted away: %s holds TXIDs %s-%s as one change, so the states inside it are not kept; %s",
			ErrUnreachable, target, c, c.MinTXID, c.MaxTXID, kept)
	}
	var stop ltx.TXID
	for txid := range best {
		if txid < target {
			stop = max(stop, txid)
		}
	}
	return fmt.Errorf("%w: TXID %s: the chain of files stops at TXID %s and no file starts at TXID %s (files are missing); %s",
		ErrUnreachable, target, stop, stop+1, kept)
}

// reachable is every TXID some chain of files reaches from the start, in
// order: the states the replica can restore.
func reachable(sorted []storage.FileInfo) []ltx.TXID {
	seen := map[ltx.TXID]bool{0: true}
	var out []ltx.TXID
	for _, f := range sorted { // by MinTXID: every edge into a node is seen before edges leave it
		if f.MinTXID == 0 || f.MaxTXID < f.MinTXID || !seen[f.MinTXID-1] || seen[f.MaxTXID] {
			continue
		}
		seen[f.MaxTXID] = true
		out = append(out, f.MaxTXID)
	}
	slices.Sort(out)
	return out
}

// compactedOver finds a file that holds target strictly inside its range
// and starts where a chain reaches: target's state was merged into it.
func compactedOver(sorted []storage.FileInfo, reach []ltx.TXID, target ltx.TXID) (storage.FileInfo, bool) {
	var found storage.FileInfo
	ok := false
	for _, f := range sorted {
		if f.MinTXID > target || target >= f.MaxTXID {
			continue
		}
		if _, start := slices.BinarySearch(reach, f.MinTXID-1); !start && f.MinTXID != 1 {
			continue
		}
		if !ok || f.MaxTXID-f.MinTXID < found.MaxTXID-found.MinTXID {
			found, ok = f, true
		}
	}
	return found, ok
}

// maxRuns bounds the intervals an error lists.
const maxRuns = 8

// formatRuns writes sorted TXIDs as intervals of consecutive ones:
// "0000000000000001-0000000000000004, 000000000000000a".
func formatRuns(txids []ltx.TXID) string {
	if len(txids) == 0 {
		return "none"
	}
	var runs []string
	for i := 0; i < len(txids); {
		j := i
		for j+1 < len(txids) && txids[j+1] == txids[j]+1 {
			j++
		}
		if i == j {
			runs = append(runs, txids[i].String())
		} else {
			runs = append(runs, txids[i].String()+"-"+txids[j].String())
		}
		i = j + 1
	}
	if len(runs) > maxRuns {
		more := len(runs) - maxRuns
		runs = append(runs[:maxRuns-1], fmt.Sprintf("... (%d more) ...", more), runs[len(runs)-1])
	}
	return strings.Join(runs, ", ")
}
