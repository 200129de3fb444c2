package vfs

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

// pageLoc says where the current version of one page lives.
type pageLoc struct {
	file  *replica.FileIndex // nil: page never written (reads as zeros)
	frame replica.Frame
}

// view is an immutable page index: the database as of one TXID. A
// connection holding a SHARED lock reads from the view it pinned; the
// poller publishes new views beside it and never mutates one.
type view struct {
	txid     ltx.TXID
	pageSize uint32
	commit   uint32 // database size in pages
	time     time.Time
	chunks   [][]pageLoc
}

// lookup returns where pgno lives in this view.
func (v *view) lookup(pgno uint32) pageLoc {
	if pgno == 0 || pgno > v.commit {
		return pageLoc{}
	}
	c := (pgno - 1) / chunkPages
	if int(c) >= len(v.chunks) || v.chunks[c] == nil {
		return pageLoc{}
	}
	return v.chunks[c][(pgno-1)%chunkPages]
}

// size is the database size in bytes.
func (v *view) size() int64 { return int64(v.commit) * int64(v.pageSize) }

// apply returns a new view with the files applied in order. A page only
// ever moves forward in time: a file older than the version a page already
// has leaves that page alone, and a file older than the view itself (a
// compacted file listed late) is skipped whole. A file that shrinks the
// database drops pages above its Commit but keeps the rest.
func (v *view) apply(files []*replica.FileIndex) (*view, error) {
	next := &view{txid: v.txid, pageSize: v.pageSize, commit: v.commit, time: v.time}
	next.chunks = append([][]pageLoc(nil), v.chunks...)
	copied := make(map[uint32]bool)
	for _, x := range files {
		h := x.Header
		if h.MaxTXID < next.txid {
			// A compacted file listed late holds a past state: its pages
			// are no newer than the view's, and its Commit and page size
			// are history (applying them would undo a later growth).
			continue
		}
		if next.pageSize != 0 && h.PageSize != next.pageSize && !coversAll(x) {
			return nil, fmt.Errorf("%s changes the page size from %d to %d without rewriting every page", x.File, next.pageSize, h.PageSize)
		}
		next.pageSize = h.PageSize
		for _, fr := range x.Frames {
			next.set(fr.Pgno, pageLoc{file: x, frame: fr}, copied)
		}
		next.truncate(h.Commit, copied)
		if h.MaxTXID > next.txid {
			next.txid = h.MaxTXID
			next.time = time.UnixMilli(h.Timestamp).UTC()
		}
	}
	return next, nil
}

func coversAll(x *replica.FileIndex) bool { return x.Header.IsSnapshot() }

// set stores loc for pgno unless the view already holds a newer version.
func (v *view) set(pgno uint32, loc pageLoc, copied map[uint32]bool) {
	c := (pgno - 1) / chunkPages
	for int(c) >= len(v.chunks) {
		v.chunks = append(v.chunks, nil)
	}
	if cur := v.chunks[c]; cur != nil {
		if old := cur[(pgno-1)%chunkPages]; old.file != nil && old.file.Header.MaxTXID > loc.file.Header.MaxTXID {
			return
		}
	}
	v.own(c, copied)
	v.chunks[c][(pgno-1)%chunkPages] = loc
}

// truncate sets the database size, dropping locations above it so that a
// later growth reads those pages as new (zeros) rather than stale data.
func (v *view) truncate(commit uint32, copied map[uint32]bool) {
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
		if !slices.ContainsFunc(v.chunks[c][above:], func(l pageLoc) bool { return l.file != nil }) {
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
func (v *view) own(c uint32, copied map[uint32]bool) {
	if copied[c] && v.chunks[c] != nil {
		return
	}
	fresh := make([]pageLoc, chunkPages)
	copy(fresh, v.chunks[c])
	v.chunks[c] = fresh
	copied[c] = true
}
