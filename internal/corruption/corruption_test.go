package corruption_test

import (
	"fmt"
	"os"
	"path/filepath"
	"sort"
	"strings"
	"testing"

	"github.com/strata-db/strata/storage"
)

// outcome is what one read path did with one damaged replica.
type outcome int

const (
	correct     outcome = iota // the data of the latest state, exactly
	named                      // an error naming the damaged file
	sqliteNoted                // SQLite found the data malformed (an error, but not naming the file)
	unnamed                    // another error, naming neither the file nor the damage
	wrong                      // other data than the latest state's, without an error
)

var outcomeNames = [...]string{"correct", "error naming the file", "malformed (SQLite)", "error not naming the file", "WRONG DATA"}

// tally counts outcomes per class of case and read path.
type tally map[string]*[len(outcomeNames)]int

func (t tally) add(key string, o outcome) {
	if t[key] == nil {
		t[key] = new([len(outcomeNames)]int)
	}
	t[key][o]++
}

func (t tally) report(tb testing.TB) (total [len(outcomeNames)]int) {
	keys := make([]string, 0, len(t))
	for k := range t {
		keys = append(keys, k)
	}
	sort.Strings(keys)
	var b strings.Builder
	for _, k := range keys {
		n := 0
		var parts []string
		for o, c := range t[k] {
			n += c
			total[o] += c
			if c > 0 {
				parts = append(parts, fmt.Sprintf("%s %d", outcomeNames[o], c))
			}
		}
		fmt.Fprintf(&b, "\n  %-44s %5d cases: %s", k, n, strings.Join(parts, ", "))
	}
	tb.Logf("outcomes:%s", b.String())
	return total
}

// namesFile reports whether an error message names f: its name (level and
// TXIDs) and the replica it is in (dir, unless empty).
func namesFile(msg, dir string, f storage.FileInfo) bool {
	return strings.Contains(msg, dir) && (strings.Contains(msg, f.String()) || strings.Contains(msg, f.Name()))
}

// forgetLastError makes the VFS's last error one that names no replica
// of the suite, by failing an open on purpose.
func forgetLastError(t testing.TB) {
	t.Helper()
	if _, _, err := queryVFS(t, "unsupported://nothing"); err == nil {
		t.Fatal("an open of an unsupported URL succeeded")
	}
}

// TestCorruption damages each file of a small replica (files read whole)
// and of a large one (files read by range) in every way cases lists, and
// reads the latest state of each damaged replica twice: restored (as
// `strata restore` does) and queried through the strata VFS. Every read
// must give the data of the latest state or an error naming the damaged
// file. Two classes are counted apart for queries, and restore must
// still catch them: a flip inside the LZ4 data of a frame read by range,
// which can decode to other bytes (the format has no checksum per frame;
// see README, "What strata verifies"); and a file consistent in itself
// that grows the database without the pages it adds, which only the
// page map built across files can see (replica.FileIndex.CheckAfter,
// which the VFS does not call yet).
func TestCorruption(t *testing.T) {
	results := tally{}
	var failures []string
	for _, c := range []*corpus{buildCorpus(t, "small", false, nil), buildCorpus(t, "large", true, nil)} {
		for _, d := range cases(t, c) {
			dir := copyReplica(t, c)
			path := fileName(dir, d.file)
			if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, d.data, 0o644); err != nil {
				t.Fatal(err)
			}
			want := c.truth[c.latest]

			class := c.name + " " + d.class
			switch {
			case d.frameData:
				class = c.name + " flip in frame data (range read)"
			case d.chainOnly:
				class = c.name + " forge seen against the state before"
			}

			// Restore.
			plan, sum, err := restoreLatest(t, dir)
			o := judge(err, dir, d.file, sum == want && plan.TXID == c.latest)
			results.add("restore: "+class, o)
			if o != correct && o != named {
				failures = append(failures, fmt.Sprintf("restore: %s: %s (%v; TXID %s)", d.name, outcomeNames[o], err, plan.TXID))
			}

			// Query through the VFS. Its last error is process-wide: a
			// failed open of another replica first makes sure that what
			// it says is about this case.
			forgetLastError(t)
			sum, txid, err := queryVFS(t, dir)
			o = judge(err, "", d.file, sum == want && txid == c.latest.String())
			results.add("query: "+class, o)
			if o != correct && o != named && !d.frameData && !d.chainOnly {
				failures = append(failures, fmt.Sprintf("query: %s: %s (%v; TXID %s)", d.name, outcomeNames[o], err, txid))
			}
			os.RemoveAll(filepath.Dir(dir))
		}
	}
	total := results.report(t)
	n := 0
	for _, c := range total {
		n += c
	}
	t.Logf("%d reads of damaged replicas: %d correct, %d errors naming the file, %d malformed (SQLite), %d other errors, %d wrong data",
		n, total[correct], total[named], total[sqliteNoted], total[unnamed], total[wrong])
	for _, f := range failures {
		t.Error(f)
	}
}

// judge classifies one read: err is its error, ok whether the data it
// gave is the latest state's.
func judge(err error, dir string, f storage.FileInfo, ok bool) outcome {
	switch {
	case err == nil && ok:
		return correct
	case err == nil:
		return wrong
	case namesFile(err.Error(), dir, f):
		return named
	case strings.Contains(err.Error(), "malformed"):
		return sqliteNoted
	default:
		return unnamed
	}
}
