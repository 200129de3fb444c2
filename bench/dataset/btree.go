package dataset

import (
	"encoding/binary"
	"fmt"
	"os"
)

// Tree describes one B-tree of a database file: how many pages a full
// scan of it reads, and how many a point lookup reads (its depth).
type Tree struct {
	Pages int `json:"pages"`
	Depth int `json:"depth"`
}

// B-tree page types (the first byte of a page's B-tree header).
const (
	interiorIndex = 0x02
	interiorTable = 0x05
	leafIndex     = 0x0a
	leafTable     = 0x0d
)

// walkTree counts the pages and levels of the B-tree rooted at root. It
// does not follow overflow pages: the benchmark's rows are far too small
// to have any.
func walkTree(f *os.File, pageSize uint32, root uint32) (Tree, error) {
	page := make([]byte, pageSize)
	if _, err := f.ReadAt(page, int64(root-1)*int64(pageSize)); err != nil {
		return Tree{}, fmt.Errorf("read page %d: %w", root, err)
	}
	hdr := page
	if root == 1 {
		hdr = page[100:] // page 1 starts with the database header
	}
	switch hdr[0] {
	case leafIndex, leafTable:
		return Tree{Pages: 1, Depth: 1}, nil
	case interiorIndex, interiorTable:
	default:
		return Tree{}, fmt.Errorf("page %d is not a B-tree page (type %#x)", root, hdr[0])
	}
	children := childPages(page, hdr)
	t := Tree{Pages: 1}
	for _, c := range children {
		sub, err := walkTree(f, pageSize, c)
		if err != nil {
			return Tree{}, err
		}
		t.Pages += sub.Pages
		t.Depth = max(t.Depth, sub.Depth+1)
	}
	return t, nil
}

// childPages lists the children of an interior page: the left child of
// each cell, then the right-most pointer.
func childPages(page, hdr []byte) []uint32 {
	cells := int(binary.BigEndian.Uint16(hdr[3:5]))
	ptrs := hdr[12:] // interior headers are 12 bytes
	children := make([]uint32, 0, cells+1)
	for i := range cells {
		off := binary.BigEndian.Uint16(ptrs[2*i:])
		children = append(children, binary.BigEndian.Uint32(page[off:]))
	}
	return append(children, binary.BigEndian.Uint32(hdr[8:12]))
}
