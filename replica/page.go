package replica

import (
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/superfly/ltx"
)

// DecodeFrame decodes one page frame (page header, optional size, LZ4 data)
// into a buffer of exactly pageSize bytes, so a cached page never pins a
// larger decode buffer. It checks all that one frame can tell: the page
// number in its header, its flags, a size field that accounts for exactly
// the bytes the page index gives the frame, and an LZ4 block that decodes
// to exactly one page using all of them. (The block format has no checksum
// of its own: a damaged literal byte decodes to a wrong byte. Only a whole
// read of the file, checked against its trailer, can tell; see
// Replica.Verify.)
func DecodeFrame(frame []byte, pgno, pageSize uint32) ([]byte, error) {
	var ph ltx.PageHeader
	if err := ph.UnmarshalBinary(frame); err != nil {
		return nil, fmt.Errorf("frame header: %w", err)
	}
	if ph.Pgno != pgno {
		return nil, fmt.Errorf("the frame of page %d holds page %d", pgno, ph.Pgno)
	}
	if err := ph.Validate(); err != nil {
		return nil, fmt.Errorf("frame header: %w", err)
	}
	page := make([]byte, pageSize)
	body := frame[ltx.PageHeaderSize:]
	if ph.Flags&ltx.PageHeaderFlagSize != 0 {
		if len(body) < 4 {
			return nil, fmt.Errorf("frame too short for its size field")
		}
		if n := binary.BigEndian.Uint32(body); int64(n) != int64(len(body)-4) {
			return nil, fmt.Errorf("frame says %d compressed bytes, the page index gives it %d", n, len(body)-4)
		}
		got, err := lz4.UncompressBlock(body[4:], page)
		if err != nil {
			return nil, fmt.Errorf("decompress: %w", err)
		} else if got != int(pageSize) {
			return nil, fmt.Errorf("decompressed to %d bytes, page size is %d", got, pageSize)
		}
		return page, nil
	}
	// Files written before the block format hold an LZ4 frame per page,
	// which carries its own content checksum when its writer asked for one.
	zr := lz4.NewReader(bytes.NewReader(body))
	if _, err := io.ReadFull(zr, page); err != nil {
		return nil, fmt.Errorf("decompress: %w", err)
	}
	if n, err := zr.Read(make([]byte, 1)); n != 0 || err != io.EOF {
		return nil, fmt.Errorf("LZ4 frame holds more than one page")
	}
	return page, nil
}

// ReadPage fetches and decodes one page with a single range request.
func (r *Replica) ReadPage(ctx context.Context, x *FileIndex, pgno uint32) ([]byte, error) {
	fr, ok := x.Lookup(pgno)
	if !ok {
		return nil, fmt.Errorf("page %d is not in %s", pgno, x.File)
	}
	pages, err := r.ReadFrames(ctx, x, []Frame{fr})
	if err != nil {
		return nil, err
	}
	return pages[0], nil
}

// ReadFrames fetches frames of one file with a single range request
// spanning them all (frames should be adjacent or close), and decodes each.
func (r *Replica) ReadFrames(ctx context.Context, x *FileIndex, frames []Frame) ([][]byte, error) {
	if len(frames) == 0 {
		return nil, nil
	}
	start, end := frames[0].Offset, frames[0].Offset+int64(frames[0].Size)
	for _, fr := range frames[1:] {
		start, end = min(start, fr.Offset), max(end, fr.Offset+int64(fr.Size))
	}
	buf, err := r.ReadAt(ctx, x.File, start, end-start)
	if err != nil {
		return nil, err
	}
	pages := make([][]byte, len(frames))
	for i, fr := range frames {
		raw := buf[fr.Offset-start : fr.Offset-start+int64(fr.Size)]
		if pages[i], err = DecodeFrame(raw, fr.Pgno, x.Header.PageSize); err != nil {
			return nil, r.corruptPage(x.File, fr.Pgno, err)
		}
		if fr.Pgno == 1 {
			if err := checkPage1(pages[i], x.Header.Commit); err != nil {
				return nil, r.corruptPage(x.File, 1, err)
			}
		}
	}
	return pages, nil
}
