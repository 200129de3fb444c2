package engine

import (
	"fmt"
	"slices"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// chunkPages is how many page locations one chunk of a view holds. Views
// share unchanged chunks, so publishing a transaction copies only the
// chunks it touched.
const chunkPages = 4096

// pageLoc says where the current version of one page lives: a frame of a
// stored LTX file, or a page of the local write buffer (then frame.Offset
// is its offset in the buffer). A zero pageLoc is a page never written:
// it reads as zeros.
type pageLoc struct {
	src   *source
	frame replica.Frame
}

// View is an immutable page index: the database as of one state. A
// connection holding a SHARED lock reads from the view it pinned; new
// views are published beside it and a view is never changed once built.
type View struct {
	txid     ltx.TXID // the last stored transaction the view includes
	pageSize uint32
	commit   uint32 // database size in pages
	time     time.Time
	chunks   [][]pageLoc

	// counter is the file change counter SQLite reads in page 1: a new
	// number whenever the state moved, so SQLite drops its page cache.
	// Two views with the same counter hold the same database (one may
	// have been re-pointed at other sources of the same pages); a counter
	// is never given to two different states (Database.nextCounter).
	counter uint32
	// pend holds local commits not yet stored, above the stored state of
	// txid that chunks describe (group commit); nil when none.
	pend *pendingPages
}

// pendingPages are the pages of local commits not yet stored, in the
// write buffer: the newest version of each page they wrote.
type pendingPages struct {
	base    *View // the stored state the commits build on
	pages   map[uint32]pageLoc
	floor   uint32 // pages above it and not in pages read as zeros (a shrink among the commits)
	commits int
}

// TXID is the last stored transaction the view includes.
func (v *View) TXID() ltx.TXID { return v.txid }

// PageSize is the database's page size, 0 for a view of nothing.
func (v *View) PageSize() uint32 { return v.pageSize }

// Pages is the database size in pages.
func (v *View) Pages() uint32 { return v.commit }

// Size is the database size in bytes.
func (v *View) Size() int64 { return int64(v.commit) * int64(v.pageSize) }

// Time is the commit time of the view's last stored transaction.
func (v *View) Time() time.Time { return v.time }

// ChangeCounter is the value of page 1's file change counter in this view.
func (v *View) ChangeCounter() uint32 { return v.counter }

// Pending is the number of local commits in the view that are not stored
// yet (group commit).
func (v *View) Pending() int {
	if v.pend == nil {
		return 0
	}
	return v.pend.commits
}

// sameState reports whether a and b hold the same database.
func sameState(a, b *View) bool { return a == b || a.counter == b.counter }

// lookup returns where pgno lives in this view.
func (v *View) lookup(pgno uint32) pageLoc {
	if pgno == 0 || pgno > v.commit {
		return pageLoc{}
	}
	if p := v.pend; p != nil {
		if l, ok := p.pages[pgno]; ok {
			return l
		}
		if pgno > p.floor {
			return pageLoc{}
		}
	}
	c := (pgno - 1) / chunkPages
	if int(c) >= len(v.chunks) || v.chunks[c] == nil {
		return pageLoc{}
	}
	return v.chunks[c][(pgno-1)%chunkPages]
}

// derive starts the next view from v: same pages, shared chunks.
func (v *View) derive() *View {
	next := *v
	next.chunks = append([][]pageLoc(nil), v.chunks...)
	return &next
}

// apply returns a new view with the stored files applied in order. A page
// only ever moves forward in time: a file older than the version a page
// already has leaves that page alone, and a file older than the view
// itself (a compacted file listed late) is skipped whole. A file that
// shrinks the database drops pages above its Commit but keeps the rest.
func (v *View) apply(files []*source) (*View, error) {
	next := v.derive()
	copied := make(map[uint32]bool)
	for _, s := range files {
		x := s.file
		h := x.Header
		if h.MaxTXID < next.txid {
			// A compacted file listed late holds a past state: its pages
			// are no newer than the view's, and its Commit and page size
			// are history (applying them would undo a later growth).
			continue
		}
		if next.pageSize != 0 && h.PageSize != next.pageSize && !h.IsSnapshot() {
			return nil, fmt.Errorf("%s changes the page size from %d to %d without rewriting every page", x.File, next.pageSize, h.PageSize)
		}
		next.pageSize = h.PageSize
		for _, fr := range x.Frames {
			next.set(fr.Pgno, pageLoc{src: s, frame: fr}, copied)
		}
		next.truncate(h.Commit, copied)
		if h.MaxTXID > next.txid {
			next.txid = h.MaxTXID
			next.time = time.UnixMilli(h.Timestamp).UTC()
		}
	}
	return next, nil
}

// set stores loc for pgno unless the view already holds a newer version.
// checkFiles checks stored files before v.apply applies them: pages are
// read by range, unverified, so a file must at least hold what the size
// change it claims needs (the error is a *replica.CorruptError).
func (v *View) checkFiles(files []*source) error {
	txid, size := v.txid, v.commit
	for _, s := range files {
		h := s.file.Header
		if h.MaxTXID < txid {
			continue // skipped by apply
		}
		if err := s.file.CheckAfter(size); err != nil {
			return err
		}
		txid, size = max(txid, h.MaxTXID), h.Commit
	}
	return nil
}

func (v *View) set(pgno uint32, loc pageLoc, copied map[uint32]bool) {
	c := (pgno - 1) / chunkPages
	for int(c) >= len(v.chunks) {
		v.chunks = append(v.chunks, nil)
	}
	if cur := v.chunks[c]; cur != nil {
		if old := cur[(pgno-1)%chunkPages]; old.src != nil && old.src.version > loc.src.version {
			return
		}
	}
	v.own(c, copied)
	v.chunks[c][(pgno-1)%chunkPages] = loc
}

// truncate sets the database size, dropping locations above it so that a
// later growth reads those pages as new (zeros) rather than stale data.
func (v *View) truncate(commit uint32, copied map[uint32]bool) {
	// Chunk by chunk, in 64-bit arithmetic: page numbers near 2^32 must
	// not wrap around.
	for c := uint64(commit) / chunkPages; c < uint64(len(v.chunks)); c++ {
		if v.chunks[c] == nil {
			continue
		}
		first := c*chunkPages + 1 // page number of the chunk's first slot
		if first > uint64(commit) {
			v.chunks[c] = nil // the whole chunk is above commit
			continue
		}
		above := uint64(commit) - first + 1 // first slot above commit
		if !slices.ContainsFunc(v.chunks[c][above:], func(l pageLoc) bool { return l.src != nil }) {
			continue // nothing to drop: keep sharing the chunk
		}
		v.own(uint32(c), copied)
		clear(v.chunks[c][above:])
	}
	v.commit = commit
}

// own makes chunk c private to this view before it is written. A chunk
// this view already copied is private, unless a shrink has dropped it
// since (truncate sets it to nil): a regrowth in the same batch then needs
// a fresh, empty chunk.
func (v *View) own(c uint32, copied map[uint32]bool) {
	if copied[c] && v.chunks[c] != nil {
		return
	}
	fresh := make([]pageLoc, chunkPages)
	copy(fresh, v.chunks[c])
	v.chunks[c] = fresh
	copied[c] = true
}

// BuildView returns the view of stored files applied in order, as a plan
// lists them (for tools and tests that index files themselves).
func BuildView(files []*replica.FileIndex) (*View, error) {
	srcs := make([]*source, len(files))
	for i, x := range files {
		srcs[i] = fileSource(x)
	}
	return (&View{}).apply(srcs)
}
