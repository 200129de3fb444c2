package replica

import (
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/superfly/ltx"
)

// The checks in this file hold between files of a chain, and between a
// header and the database header SQLite keeps in page 1: what a file's
// checksum cannot tell, since a forged or mislabelled file can be
// internally valid.

// resizeError reports a file that changes the database size without page
// 1, where SQLite records the size: every transaction that changes it
// rewrites page 1.
func resizeError(from, to uint32) error {
	return fmt.Errorf("header says the database size changes from %d to %d pages, but the file does not hold page 1, which records it", from, to)
}

// CheckAfter checks x as the file applied after a state of size pages
// (ignored for a file starting at TXID 1, a complete database): a file
// that grows the database must hold every page it adds, and one that
// changes its size must hold page 1. Restore checks this of each file; a
// reader that builds its own page map from page indexes (whose pages are
// read by range, without a checksum) calls it with the size of the state
// before x. The error is a *CorruptError naming x.
func (x *FileIndex) CheckAfter(size uint32) error {
	h := x.Header
	if h.MinTXID == 1 {
		size = 0
	}
	lock := ltx.LockPgno(h.PageSize)
	i := sort.Search(len(x.Frames), func(i int) bool { return x.Frames[i].Pgno > size })
	if need := newPages(size, h.Commit, lock); uint32(len(x.Frames)-i) < need {
		return &CorruptError{URL: x.URL, File: x.File, Err: growthError(size, h.Commit, uint32(len(x.Frames)-i), need)}
	}
	if _, ok := x.Lookup(1); h.Commit != size && h.Commit != 0 && !ok {
		return &CorruptError{URL: x.URL, File: x.File, Err: resizeError(size, h.Commit)}
	}
	return nil
}

// newPages is how many pages a file must hold when it takes the database
// from size pages to commit pages: every page added, but the lock page.
func newPages(size, commit, lock uint32) uint32 {
	if commit <= size {
		return 0
	}
	n := commit - size
	if size < lock && lock <= commit {
		n--
	}
	return n
}

func growthError(from, to, got, need uint32) error {
	if from == 0 {
		return fmt.Errorf("header says the database has %d pages, but the file holds %d of them (a complete database must hold every page)", to, got)
	}
	return fmt.Errorf("header says the database grows from %d to %d pages, but the file holds only %d of the %d new pages", from, to, got, need)
}

// checkPage1 compares what SQLite records in page 1 with what the LTX
// header says of the same state: the page size (bytes 16-17, 1 meaning
// 65536), and the database size (bytes 28-31, valid when the change
// counter at 24 equals the version-valid-for number at 92, as every
// SQLite since 3.7.0 keeps it) with commit.
func checkPage1(page []byte, commit uint32) error {
	if len(page) < 100 || string(page[:16]) != "SQLite format 3\x00" {
		return nil // not a database header (a test's random page): nothing to compare
	}
	pageSize := uint32(binary.BigEndian.Uint16(page[16:]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if pageSize != uint32(len(page)) {
		return fmt.Errorf("the database header in page 1 says pages of %d bytes, the LTX header says %d", pageSize, len(page))
	}
	size := binary.BigEndian.Uint32(page[28:])
	if size == 0 || binary.BigEndian.Uint32(page[24:]) != binary.BigEndian.Uint32(page[92:]) {
		return nil // the in-header size is not valid: SQLite itself ignores it
	}
	if size != commit {
		return fmt.Errorf("the database header in page 1 says %d pages, the LTX header says %d", size, commit)
	}
	return nil
}
