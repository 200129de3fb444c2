package engine

import (
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// A page's bytes come from one of these places, tried in this order by a
// read (Database.Read):
//
//  1. the connection's own uncommitted writes (the writer's transaction
//     overlay; only the writing connection sees them);
//  2. the local write buffer: commits acknowledged locally and not yet
//     stored (group commit) — a source with log != nil;
//  3. the hydrated local file, when it holds the version of the page the
//     view wants: the file is the view's stored state, or the page did
//     not change between the file's state and the view's (hydrate.go);
//  4. the page cache, then a frame of a stored LTX file — a source with
//     file != nil — fetched with a range read.
//
// Views map each page to a source (2 or 4); 1 and 3 are consulted around
// the view. Whatever the source, a read is one path: Database.Read.

// source is one place page versions live, as a view refers to it.
type source struct {
	file *replica.FileIndex // a stored LTX file: its header and page index
	buf  *bufferFile        // or the local write buffer
	// version orders page versions: a page moves to a source only if its
	// version is at least the current one's. For a stored file it is the
	// file's MaxTXID.
	version ltx.TXID
	// whole says the stored file was read whole, and verified, when it
	// was indexed: its cached pages are as good as the file (hydration
	// takes them instead of downloading the file again).
	whole bool
}

// fileSource wraps a stored file's index.
func fileSource(x *replica.FileIndex) *source {
	return &source{file: x, version: x.Header.MaxTXID}
}

// key is the storage identity of a stored file's source.
func (s *source) key() storage.FileKey { return s.file.File.Key() }
