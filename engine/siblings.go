package engine

import "encoding/binary"

// maxParents is how many B-tree interior pages a connection remembers.
const maxParents = 16

// maxSiblings caps how many sibling pages one read fetches ahead.
const maxSiblings = 64

// siblingScan notices SQLite walking the children of a B-tree interior
// page in order, as a scan of an index (or of a table whose pages are
// scattered) does, and names the siblings to fetch ahead. Page-order
// read-ahead cannot help there: the children sit all over the file. A
// point lookup reads one child per interior page, never two in a row, so
// it never triggers this.
type siblingScan struct {
	parents []parentPage // recently read interior pages, oldest first
	parent  uint32       // the interior page whose children are being walked
	next    int          // the child index expected next
	ahead   int          // siblings to fetch ahead; doubles while the walk goes on
}

// parentPage is an interior page and its children in key order.
type parentPage struct {
	pgno     uint32
	children []uint32
}

// observe remembers the children of an interior page read in full.
func (s *siblingScan) observe(pgno uint32, page []byte) {
	children := interiorChildren(pgno, page)
	if children == nil {
		return
	}
	for i, p := range s.parents {
		if p.pgno == pgno {
			s.parents = append(s.parents[:i], s.parents[i+1:]...)
			break
		}
	}
	if len(s.parents) == maxParents {
		s.parents = s.parents[1:]
	}
	s.parents = append(s.parents, parentPage{pgno, children})
}

// onRead records a read of pgno and returns the siblings to fetch ahead.
func (s *siblingScan) onRead(pgno uint32) []uint32 {
	for j := len(s.parents) - 1; j >= 0; j-- {
		p := s.parents[j]
		for i, c := range p.children {
			if c != pgno {
				continue
			}
			if s.parent == p.pgno && i == s.next {
				s.ahead = min(max(2*s.ahead, 4), maxSiblings)
			} else {
				s.ahead = 0
			}
			s.parent, s.next = p.pgno, i+1
			if s.ahead == 0 {
				return nil
			}
			return p.children[i+1 : min(i+1+s.ahead, len(p.children))]
		}
	}
	s.parent, s.ahead = 0, 0
	return nil
}

// interiorChildren parses a B-tree interior page (index 0x02, table 0x05)
// into its child page numbers, left to right, or returns nil. Page 1 has
// the 100-byte database header before its B-tree header. A malformed page
// gives nil: this only steers prefetching, never what SQLite reads.
func interiorChildren(pgno uint32, page []byte) []uint32 {
	h := 0
	if pgno == 1 {
		h = 100
	}
	if len(page) < h+12 || (page[h] != 0x02 && page[h] != 0x05) {
		return nil
	}
	n := int(binary.BigEndian.Uint16(page[h+3:]))
	if h+12+2*n > len(page) {
		return nil
	}
	children := make([]uint32, 0, n+1)
	for i := range n {
		off := int(binary.BigEndian.Uint16(page[h+12+2*i:]))
		if off+4 > len(page) {
			return nil
		}
		children = append(children, binary.BigEndian.Uint32(page[off:]))
	}
	return append(children, binary.BigEndian.Uint32(page[h+8:]))
}
