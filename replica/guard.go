package replica

import (
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/superfly/ltx"
)

// frameGuard sits between a stream and ltx.Decoder and checks each page
// frame's size field before the decoder sees it: the decoder allocates
// whatever a frame claims, so a few corrupt bytes could otherwise ask for
// gigabytes. It also counts what it read, so that a stream that broke off
// can be told from a file that is corrupt.
type frameGuard struct {
	src      io.Reader
	pageSize uint32
	n        int64 // bytes read from src
	srcErr   error // a read error from src other than EOF
	eof      bool  // src ended

	pending []byte // validated bytes not yet handed out
	state   guardState
}

type guardState int

const (
	guardHeader guardState = iota // the 100-byte file header
	guardFrame                    // at the start of a page frame
	guardRest                     // past the frames: index and trailer
)

func newFrameGuard(src io.Reader) *frameGuard { return &frameGuard{src: src} }

func (g *frameGuard) Read(p []byte) (int, error) {
	for len(g.pending) == 0 {
		if err := g.advance(); err != nil {
			return 0, err
		}
	}
	n := copy(p, g.pending)
	g.pending = g.pending[n:]
	return n, nil
}

// advance reads and checks the next structural piece into pending.
func (g *frameGuard) advance() error {
	switch g.state {
	case guardHeader:
		b, err := g.take(ltx.HeaderSize)
		if err != nil {
			return err
		}
		var h ltx.Header
		if err := h.UnmarshalBinary(b); err == nil && ltx.IsValidPageSize(h.PageSize) {
			g.pageSize = h.PageSize
		}
		g.pending, g.state = b, guardFrame
		return nil
	case guardFrame:
		return g.frame()
	default:
		b, err := g.take(32 << 10)
		if len(b) > 0 {
			g.pending = b
			return nil
		}
		return err
	}
}

// frame passes one block-format frame after checking its size field.
// Frames in the older LZ4-frame format carry no size; what follows them is
// passed through unchecked (their decoder does not allocate by size).
func (g *frameGuard) frame() error {
	hdr, err := g.take(ltx.PageHeaderSize)
	if err != nil {
		return err
	}
	var ph ltx.PageHeader
	if len(hdr) < ltx.PageHeaderSize || ph.UnmarshalBinary(hdr) != nil || ph.IsZero() || ph.Flags&ltx.PageHeaderFlagSize == 0 {
		g.pending, g.state = hdr, guardRest
		return nil
	}
	sz, err := g.take(4)
	if err != nil {
		return err
	}
	if len(sz) < 4 { // truncated: the decoder reports it
		g.pending, g.state = append(hdr, sz...), guardRest
		return nil
	}
	n := binary.BigEndian.Uint32(sz)
	if limit := lz4.CompressBlockBound(int(max(g.pageSize, 512))); int64(n) > int64(limit) {
		return fmt.Errorf("page %d: frame claims %d compressed bytes, more than a %d-byte page can need", ph.Pgno, n, g.pageSize)
	}
	data, err := g.take(int(n))
	if err != nil {
		return err
	}
	g.pending = append(append(hdr, sz...), data...)
	return nil
}

// take reads exactly n bytes (fewer only at the end of the stream).
func (g *frameGuard) take(n int) ([]byte, error) {
	b := make([]byte, n)
	got, err := io.ReadFull(g.src, b)
	g.n += int64(got)
	switch {
	case err == io.EOF || err == io.ErrUnexpectedEOF:
		g.eof = true
		if got == 0 {
			return nil, io.EOF
		}
		return b[:got], nil
	case err != nil:
		g.srcErr = err
		return nil, err
	}
	return b, nil
}
