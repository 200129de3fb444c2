package engine

import (
	"testing"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// ltxFile is the index of an LTX file at level covering [minTXID,
// maxTXID], leaving the database at commit pages, that holds pages.
func ltxFile(level int, minTXID, maxTXID ltx.TXID, commit uint32, pages ...uint32) *replica.FileIndex {
	x := &replica.FileIndex{
		File:   storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID},
		Header: ltx.Header{Version: ltx.Version, PageSize: 4096, Commit: commit, MinTXID: minTXID, MaxTXID: maxTXID, Timestamp: int64(maxTXID) * 1000},
	}
	for i, p := range pages {
		x.Frames = append(x.Frames, replica.Frame{Pgno: p, Offset: int64(ltx.HeaderSize + 100*i), Size: 100})
	}
	return x
}

func pageRange(from, to uint32) []uint32 {
	var out []uint32
	for p := from; p <= to; p++ {
		out = append(out, p)
	}
	return out
}

func mustApply(t *testing.T, v *View, files ...*replica.FileIndex) *View {
	t.Helper()
	next, err := v.apply(sourcesOf(files))
	if err != nil {
		t.Fatal(err)
	}
	return next
}

// expectPages checks where each page of v lives: want maps a page number to
// the file holding its current version, nil for a page that reads as zeros.
// sourcesOf wraps files as sources, one per file index (kept, so that
// applying the same index twice gives the same source).
func sourcesOf(files []*replica.FileIndex) []*source {
	out := make([]*source, len(files))
	for i, x := range files {
		s, ok := testSources[x]
		if !ok {
			s = fileSource(x)
			testSources[x] = s
		}
		out[i] = s
	}
	return out
}

var testSources = map[*replica.FileIndex]*source{}

// fileOf is the stored file a page location names, nil for zeros.
func fileOf(l pageLoc) *replica.FileIndex {
	if l.src == nil {
		return nil
	}
	return l.src.file
}

func expectPages(t *testing.T, name string, v *View, want map[uint32]*replica.FileIndex) {
	t.Helper()
	for pgno, file := range want {
		if got := fileOf(v.lookup(pgno)); got != file {
			t.Errorf("%s: page %d is in %v, want %v", name, pgno, nameOf(got), nameOf(file))
		}
	}
}

func nameOf(x *replica.FileIndex) string {
	if x == nil {
		return "nothing (zeros)"
	}
	return x.File.String()
}

func TestViewLaterFilesWin(t *testing.T) {
	a := ltxFile(0, 1, 1, 5, pageRange(1, 5)...)
	b := ltxFile(0, 2, 2, 5, 2, 4)
	v := mustApply(t, &View{}, a, b)
	expectPages(t, "A then B", v, map[uint32]*replica.FileIndex{1: a, 2: b, 3: a, 4: b, 5: a, 6: nil, 0: nil})
	if v.txid != 2 || v.commit != 5 || v.pageSize != 4096 || v.Size() != 5*4096 {
		t.Errorf("view: txid %s, %d pages of %d bytes; want TXID 2, 5 pages of 4096", v.txid, v.commit, v.pageSize)
	}
	if v.time.UnixMilli() != 2000 {
		t.Errorf("view time %s, want the timestamp of TXID 2", v.time)
	}
}

// A compacted file listed after the newer level-0 files it covers were
// applied never moves a page, nor the database size, back in time: it is
// older than the view, so it has nothing to add.
func TestViewLateCompactedFileNeverMovesBack(t *testing.T) {
	snap := ltxFile(0, 1, 1, 4, pageRange(1, 4)...)
	l0 := []*replica.FileIndex{
		snap,
		ltxFile(0, 2, 2, 4, 1, 2),
		ltxFile(0, 3, 3, 4, 1, 3),
		ltxFile(0, 4, 4, 6, 1, 3, 5, 6), // grows to 6 pages
	}
	v := mustApply(t, &View{}, l0...)
	late := ltxFile(1, 2, 3, 4, 1, 2, 3) // the merge of TXIDs 2 and 3
	next := mustApply(t, v, late)
	expectPages(t, "after the late L1", next, map[uint32]*replica.FileIndex{
		1: l0[3], 2: l0[1], 3: l0[3], 4: snap, 5: l0[3], 6: l0[3],
	})
	if next.txid != 4 || next.commit != 6 {
		t.Errorf("after the late L1: TXID %s with %d pages, want TXID 4 with 6 pages", next.txid, next.commit)
	}
	if !next.time.Equal(v.time) {
		t.Errorf("after the late L1: time moved from %s to %s", v.time, next.time)
	}

	// Nor does it revive pages that a shrink dropped since: after the
	// database shrank to 2 pages and grew back to 8 writing page 8 only,
	// pages 3-7 read as zeros, whatever the late file held for them.
	big := ltxFile(0, 1, 1, 8, pageRange(1, 8)...)
	shrink := ltxFile(0, 2, 2, 2, 1)
	regrow := ltxFile(0, 3, 3, 8, 1, 8)
	lateBig := ltxFile(1, 1, 2, 2, 1, 2) // covers the shrink: 2 pages
	v = mustApply(t, &View{}, big, shrink, regrow)
	next = mustApply(t, v, lateBig, ltxFile(1, 1, 1, 8, pageRange(1, 8)...))
	expectPages(t, "late files after a shrink", next, map[uint32]*replica.FileIndex{
		1: regrow, 2: big, 3: nil, 7: nil, 8: regrow,
	})
	if next.commit != 8 {
		t.Errorf("late files after a shrink: %d pages, want 8", next.commit)
	}
}

// A transaction that shrinks the database drops the pages above its size
// and keeps the pages below it that it did not rewrite; pages that come
// back when the database grows again read as zeros until written.
func TestViewShrinkKeepsLowerPages(t *testing.T) {
	a := ltxFile(0, 1, 1, 10, pageRange(1, 10)...)
	b := ltxFile(0, 2, 2, 5, 1, 2) // VACUUM down to 5 pages
	c := ltxFile(0, 3, 3, 8, 1, 8) // grows to 8 pages, writes page 8 only
	v1 := mustApply(t, &View{}, a)
	v2 := mustApply(t, v1, b)
	expectPages(t, "shrunk", v2, map[uint32]*replica.FileIndex{1: b, 2: b, 3: a, 4: a, 5: a, 6: nil, 10: nil})
	if v2.commit != 5 {
		t.Errorf("shrunk: %d pages, want 5", v2.commit)
	}
	v3 := mustApply(t, v2, c)
	expectPages(t, "regrown", v3, map[uint32]*replica.FileIndex{1: c, 3: a, 5: a, 6: nil, 7: nil, 8: c, 9: nil})
	if v3.commit != 8 {
		t.Errorf("regrown: %d pages, want 8", v3.commit)
	}
	// Applying the shrink and the growth in one batch gives the same view.
	v4 := mustApply(t, v1, b, c)
	for p := uint32(1); p <= 10; p++ {
		if v4.lookup(p) != v3.lookup(p) {
			t.Errorf("page %d: one batch gives %s, two give %s", p, nameOf(fileOf(v4.lookup(p))), nameOf(fileOf(v3.lookup(p))))
		}
	}
}

// Views are immutable: applying files copies the chunks it changes and
// shares the others, so a view pinned by a reader never changes.
func TestViewCopyOnWrite(t *testing.T) {
	const pages = chunkPages + 1000 // two chunks
	a := ltxFile(0, 1, 1, pages, pageRange(1, pages)...)
	v1 := mustApply(t, &View{}, a)
	b := ltxFile(0, 2, 2, pages, 1, 2)
	v2 := mustApply(t, v1, b)
	if &v1.chunks[1][0] != &v2.chunks[1][0] {
		t.Error("an untouched chunk was copied")
	}
	if &v1.chunks[0][0] == &v2.chunks[0][0] {
		t.Error("a touched chunk is shared with the older view")
	}
	v3 := mustApply(t, v2, ltxFile(0, 3, 3, 100, 3)) // shrink below the second chunk
	expectPages(t, "v1", v1, map[uint32]*replica.FileIndex{1: a, 2: a, 3: a, 101: a, pages: a})
	expectPages(t, "v2", v2, map[uint32]*replica.FileIndex{1: b, 2: b, 3: a, 101: a, pages: a})
	expectPages(t, "v3", v3, map[uint32]*replica.FileIndex{1: b, 3: fileOf(v3.lookup(3)), 101: nil, pages: nil})
	if fileOf(v3.lookup(3)).File.MaxTXID != 3 {
		t.Errorf("v3: page 3 from %s, want TXID 3", nameOf(fileOf(v3.lookup(3))))
	}
	if v1.commit != pages || v2.commit != pages || v3.commit != 100 {
		t.Errorf("sizes %d, %d, %d; want %d, %d, 100", v1.commit, v2.commit, v3.commit, pages, pages)
	}
}

// The page size may change only with a file that rewrites every page.
func TestViewPageSizeChange(t *testing.T) {
	v := mustApply(t, &View{}, ltxFile(0, 1, 1, 2, 1, 2))
	big := ltxFile(0, 2, 2, 1, 1)
	big.Header.PageSize = 8192
	if _, err := v.apply(sourcesOf([]*replica.FileIndex{big})); err == nil {
		t.Error("a partial file with another page size was applied")
	}
	snap := ltxFile(9, 1, 2, 1, 1)
	snap.Header.PageSize = 8192
	next := mustApply(t, v, snap)
	if next.pageSize != 8192 || next.commit != 1 {
		t.Errorf("after a snapshot with 8 KiB pages: %d pages of %d bytes", next.commit, next.pageSize)
	}
}

// A database that grows past one chunk of the index, shrinks below it and
// grows into it again, all in one batch of files, regrows into an empty
// chunk: the chunk the shrink dropped must be allocated anew, not written
// through a nil slice (that panicked with "index out of range" at open and
// in the poller).
func TestViewShrinkAndRegrowAcrossChunksInOneBatch(t *testing.T) {
	const c = chunkPages
	for _, tc := range []struct {
		name           string
		grow, regrowTo uint32
	}{
		{"one chunk dropped", c + 300, c + 100},
		{"several chunks dropped", 3*c + 5, 2*c + 7},
		{"regrow past the old end", c + 10, 4 * c},
	} {
		t.Run(tc.name, func(t *testing.T) {
			big := ltxFile(0, 1, 1, tc.grow, pageRange(1, tc.grow)...)
			small := ltxFile(0, 2, 2, 71, 1, 2)
			regrow := ltxFile(0, 3, 3, tc.regrowTo, pageRange(72, tc.regrowTo)...)
			// In one batch, and the same files across separate applies.
			batch := mustApply(t, &View{}, big, small, regrow)
			stepped := mustApply(t, mustApply(t, mustApply(t, &View{}, big), small), regrow)
			for name, v := range map[string]*View{"one batch": batch, "separate applies": stepped} {
				if v.commit != tc.regrowTo {
					t.Fatalf("%s: commit = %d, want %d", name, v.commit, tc.regrowTo)
				}
				expectPages(t, name, v, map[uint32]*replica.FileIndex{
					1: small, 2: small, 3: big, 71: big, 72: regrow,
					c: regrow, c + 1: regrow, tc.regrowTo: regrow, tc.regrowTo + 1: nil,
				})
			}
		})
	}
}

// A view whose size is near SQLite's limit (2^32 - 2 pages, or one more
// in a header no check has rejected) shrinks in time and keeps the pages
// below the new size. The page-by-page loop of old wrapped its uint32 page
// number around past the last chunk: it ran for billions of iterations,
// started over at page 1 and dropped pages below the new size (and with
// Commit 0xFFFFFFFF never ended).
func TestViewShrinkNearMaxPages(t *testing.T) {
	for _, commit := range []uint32{0xFFFFFFFE, 0xFFFFFFFF} {
		big := ltxFile(0, 1, 1, commit, 1, 2, commit)
		shrink := ltxFile(0, 2, 2, 2, 1)
		type result struct {
			v   *View
			err error
		}
		done := make(chan result, 1)
		go func() {
			v, err := (&View{}).apply(sourcesOf([]*replica.FileIndex{big}))
			if err == nil {
				v, err = v.apply(sourcesOf([]*replica.FileIndex{shrink}))
			}
			done <- result{v, err}
		}()
		var r result
		select {
		case r = <-done:
		case <-time.After(5 * time.Second):
			t.Fatalf("Commit %#x: shrinking to 2 pages did not end within 5s", commit)
		}
		if r.err != nil {
			t.Fatalf("Commit %#x: %v", commit, r.err)
		}
		if r.v.commit != 2 {
			t.Errorf("Commit %#x: view has %d pages after the shrink, want 2", commit, r.v.commit)
		}
		expectPages(t, "after the shrink", r.v, map[uint32]*replica.FileIndex{1: shrink, 2: big})
		for c, chunk := range r.v.chunks[1:] {
			if chunk != nil {
				t.Fatalf("Commit %#x: chunk %d, above the new size, is still there", commit, c+1)
			}
		}
	}
}
