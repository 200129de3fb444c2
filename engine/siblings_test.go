package engine

import (
	"encoding/binary"
	"slices"
	"testing"
)

// interiorPage builds a B-tree interior page of the given type whose cells
// point at children[:len-1] and whose right-most pointer is the last child.
func interiorPage(pgno uint32, typ byte, children ...uint32) []byte {
	page := make([]byte, 4096)
	h := 0
	if pgno == 1 {
		h = 100
	}
	n := len(children) - 1
	page[h] = typ
	binary.BigEndian.PutUint16(page[h+3:], uint16(n))
	binary.BigEndian.PutUint32(page[h+8:], children[n])
	off := 4096
	for i := range n {
		off -= 8 // a 4-byte child pointer and a made-up key
		binary.BigEndian.PutUint16(page[h+12+2*i:], uint16(off))
		binary.BigEndian.PutUint32(page[off:], children[i])
	}
	return page
}

func TestInteriorChildren(t *testing.T) {
	tests := []struct {
		name string
		pgno uint32
		page []byte
		want []uint32
	}{
		{"index interior", 7, interiorPage(7, 0x02, 10, 40, 22, 90), []uint32{10, 40, 22, 90}},
		{"table interior", 3, interiorPage(3, 0x05, 5, 6), []uint32{5, 6}},
		{"page 1 has the database header first", 1, interiorPage(1, 0x05, 2, 3, 4), []uint32{2, 3, 4}},
		{"leaf page", 9, interiorPage(9, 0x0d, 1, 2), nil},
		{"zero page", 9, make([]byte, 4096), nil},
		{"cell count past the page", 9, func() []byte {
			p := interiorPage(9, 0x02, 1, 2)
			binary.BigEndian.PutUint16(p[3:], 4000)
			return p
		}(), nil},
		{"cell pointer past the page", 9, func() []byte {
			p := interiorPage(9, 0x02, 1, 2)
			binary.BigEndian.PutUint16(p[12:], 4094)
			return p
		}(), nil},
		{"short buffer", 9, []byte{0x02, 0, 0}, nil},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := interiorChildren(tt.pgno, tt.page); !slices.Equal(got, tt.want) {
				t.Errorf("interiorChildren = %v, want %v", got, tt.want)
			}
		})
	}
}

// A walk over consecutive children fetches siblings ahead, more and more;
// a point lookup (one child per parent) or a jump fetches none.
func TestSiblingScan(t *testing.T) {
	var s siblingScan
	kids := []uint32{50, 11, 73, 20, 95, 31, 64, 12, 88, 40, 77}
	s.observe(2, interiorPage(2, 0x02, kids...))
	if got := s.onRead(73); got != nil {
		t.Errorf("first child read: fetch ahead %v, want nothing (could be a point lookup)", got)
	}
	if got := s.onRead(20); !slices.Equal(got, kids[4:8]) {
		t.Errorf("second consecutive child: fetch ahead %v, want %v", got, kids[4:8])
	}
	if got := s.onRead(95); !slices.Equal(got, kids[5:11]) {
		t.Errorf("third consecutive child: fetch ahead %v, want the rest %v", got, kids[5:11])
	}
	if got := s.onRead(12); got != nil {
		t.Errorf("a jump over siblings: fetch ahead %v, want nothing", got)
	}
	if got := s.onRead(999); got != nil {
		t.Errorf("a page with no known parent: fetch ahead %v, want nothing", got)
	}
	// The parent list stays bounded.
	for p := uint32(100); p < 100+2*maxParents; p++ {
		s.observe(p, interiorPage(p, 0x05, p*10, p*10+1))
	}
	if len(s.parents) != maxParents {
		t.Errorf("%d parents remembered, want at most %d", len(s.parents), maxParents)
	}
}
