package compact

import (
	"sort"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// view is one listing of the replica as a pass sees it: the files that
// are not known to be corrupt, updated with what the pass writes and
// deletes. Files that appear in storage meanwhile wait for the next pass.
type view struct {
	files []storage.FileInfo
}

func newView(files []storage.FileInfo, bad func(storage.FileInfo) bool) *view {
	v := &view{}
	for _, f := range files {
		if !bad(f) {
			v.files = append(v.files, f)
		}
	}
	return v
}

// level is one level's files in (MinTXID, MaxTXID) order.
func (v *view) level(l int) []storage.FileInfo {
	var out []storage.FileInfo
	for _, f := range v.files {
		if f.Level == l {
			out = append(out, f)
		}
	}
	storage.SortFiles(out)
	return out
}

// between is the files of levels lo to hi, in (MinTXID, MaxTXID) order.
func (v *view) between(lo, hi int) []storage.FileInfo {
	var out []storage.FileInfo
	for _, f := range v.files {
		if f.Level >= lo && f.Level <= hi {
			out = append(out, f)
		}
	}
	storage.SortFiles(out)
	return out
}

func (v *view) add(f storage.FileInfo) {
	for _, g := range v.files {
		if g.Key() == f.Key() {
			return
		}
	}
	v.files = append(v.files, f)
}

func (v *view) remove(del map[storage.FileKey]bool) {
	kept := v.files[:0]
	for _, f := range v.files {
		if !del[f.Key()] {
			kept = append(kept, f)
		}
	}
	v.files = kept
}

// latest is the highest TXID any file reaches.
func (v *view) latest() ltx.TXID {
	var m ltx.TXID
	for _, f := range v.files {
		m = max(m, f.MaxTXID)
	}
	return m
}

// txRange is a closed range of TXIDs.
type txRange struct{ lo, hi ltx.TXID }

// coverage is the union of the files' TXID ranges, as disjoint ranges in
// order; ranges that touch are joined.
func coverage(files []storage.FileInfo) []txRange {
	rs := make([]txRange, 0, len(files))
	for _, f := range files {
		rs = append(rs, txRange{f.MinTXID, f.MaxTXID})
	}
	sort.Slice(rs, func(i, j int) bool { return rs[i].lo < rs[j].lo })
	var out []txRange
	for _, r := range rs {
		if n := len(out); n > 0 && r.lo <= out[n-1].hi+1 {
			out[n-1].hi = max(out[n-1].hi, r.hi)
			continue
		}
		out = append(out, r)
	}
	return out
}

// covered reports whether every TXID of [lo, hi] is in cov.
func covered(cov []txRange, lo, hi ltx.TXID) bool {
	i := sort.Search(len(cov), func(i int) bool { return cov[i].hi >= lo })
	return i < len(cov) && cov[i].lo <= lo && cov[i].hi >= hi
}

// uncovered is the part of [from, to] that before covers and after does
// not: what deleting the files missing from after would lose.
func uncovered(before, after []txRange, from, to ltx.TXID) []txRange {
	var out []txRange
	for _, b := range before {
		lo, hi := max(b.lo, from), min(b.hi, to)
		for lo <= hi {
			i := sort.Search(len(after), func(i int) bool { return after[i].hi >= lo })
			if i == len(after) || after[i].lo > hi {
				out = append(out, txRange{lo, hi})
				break
			}
			if after[i].lo > lo {
				out = append(out, txRange{lo, after[i].lo - 1})
			}
			if after[i].hi >= hi {
				break
			}
			lo = after[i].hi + 1
		}
	}
	return out
}

// cover chooses files (in TXID order) whose chain reaches from start to
// end: at each step the file that goes furthest without passing end,
// preferring one that starts exactly where the chain stands. It returns
// the TXID where the chain stops short if no file continues it.
func cover(files []storage.FileInfo, start, end ltx.TXID) ([]storage.FileInfo, ltx.TXID, bool) {
	var chain []storage.FileInfo
	for next := start; next <= end; {
		var best storage.FileInfo
		found := false
		for _, f := range files {
			if f.MinTXID > next || f.MaxTXID < next || f.MaxTXID > end {
				continue
			}
			exact, bestExact := f.MinTXID == next, best.MinTXID == next
			switch {
			case !found,
				exact && !bestExact,
				exact == bestExact && f.MaxTXID > best.MaxTXID,
				exact == bestExact && f.MaxTXID == best.MaxTXID && f.Level > best.Level:
				best, found = f, true
			}
		}
		if !found {
			return chain, next, false
		}
		chain = append(chain, best)
		next = best.MaxTXID + 1
	}
	return chain, 0, true
}

// longestChain is the chain of files (each starting right after the one
// before it ends) that reaches the highest TXID from the first file's
// start, with the fewest files; files must be in (MinTXID, MaxTXID) order.
func longestChain(files []storage.FileInfo) []storage.FileInfo {
	if len(files) == 0 {
		return nil
	}
	type step struct {
		n    int
		last int // index of the file that ends here
	}
	origin := files[0].MinTXID - 1
	best := map[ltx.TXID]step{origin: {0, -1}}
	for i, f := range files {
		from, ok := best[f.MinTXID-1]
		if !ok {
			continue
		}
		if cur, ok := best[f.MaxTXID]; !ok || from.n+1 < cur.n {
			best[f.MaxTXID] = step{from.n + 1, i}
		}
	}
	end := origin
	for txid := range best {
		end = max(end, txid)
	}
	var path []storage.FileInfo
	for txid := end; txid != origin; {
		f := files[best[txid].last]
		path = append(path, f)
		txid = f.MinTXID - 1
	}
	for i, j := 0, len(path)-1; i < j; i, j = i+1, j-1 {
		path[i], path[j] = path[j], path[i]
	}
	return path
}
