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
// larger decode buffer.
func DecodeFrame(frame []byte, pgno, pageSize uint32) ([]byte, error) {
	var ph ltx.PageHeader
	if err := ph.UnmarshalBinary(frame); err != nil {
		return nil, fmt.Errorf("page %d: frame header: %w", pgno, err)
	}
	if ph.Pgno != pgno {
		return nil, fmt.Errorf("page %d: frame holds page %d", pgno, ph.Pgno)
	}
	page := make([]byte, pageSize)
	body := frame[ltx.PageHeaderSize:]
	if ph.Flags&ltx.PageHeaderFlagSize != 0 {
		if len(body) < 4 {
			return nil, fmt.Errorf("page %d: frame too short for its size field", pgno)
		}
		n := binary.BigEndian.Uint32(body)
		if int64(n) > int64(len(body)-4) {
			return nil, fmt.Errorf("page %d: frame says %d compressed bytes, has %d", pgno, n, len(body)-4)
		}
		got, err := lz4.UncompressBlock(body[4:4+n], page)
		if err != nil {
			return nil, fmt.Errorf("page %d: decompress: %w", pgno, err)
		} else if got != int(pageSize) {
			return nil, fmt.Errorf("page %d: decompressed to %d bytes, page size is %d", pgno, got, pageSize)
		}
		return page, nil
	}
	// Files written before the block format hold an LZ4 frame per page.
	if _, err := io.ReadFull(lz4.NewReader(bytes.NewReader(body)), page); err != nil {
		return nil, fmt.Errorf("page %d: decompress: %w", pgno, err)
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
			return nil, r.corrupt(x.File, err)
		}
	}
	return pages, nil
}
