// Package ltxmutate takes LTX files apart and puts them together again,
// including in ways no encoder would: it generates the damaged and the
// forged files of the corruption tests. Layout names every structural
// region of a file (header fields, each frame's page number, flags, size
// and data, the page index, the trailer) so that a test can flip bits in
// each and cut the file at each boundary; Encode writes any header and
// any sequence of pages as a file whose checksum is valid, so that a test
// can forge content that only consistency checks can catch.
package ltxmutate

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc64"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/superfly/ltx"
)

// Page is one page of a file: its number and its uncompressed bytes.
type Page struct {
	Pgno uint32
	Data []byte
}

// File is an LTX file taken apart.
type File struct {
	Header    ltx.Header
	Pages     []Page // in file order
	PostApply ltx.Checksum
}

// Decode takes apart an intact LTX file, checking it as the ltx package
// does.
func Decode(b []byte) (File, error) {
	dec := ltx.NewDecoder(bytes.NewReader(b))
	if err := dec.DecodeHeader(); err != nil {
		return File{}, err
	}
	f := File{Header: dec.Header()}
	for {
		var ph ltx.PageHeader
		data := make([]byte, f.Header.PageSize)
		if err := dec.DecodePage(&ph, data); err == io.EOF {
			break
		} else if err != nil {
			return File{}, err
		}
		f.Pages = append(f.Pages, Page{Pgno: ph.Pgno, Data: data})
	}
	if err := dec.Close(); err != nil {
		return File{}, err
	}
	f.PostApply = dec.Trailer().PostApplyChecksum
	return f, nil
}

// Encode writes f as an LTX file in the block format, with its pages in
// the order given, a page index listing them in that order, and a valid
// file checksum, whatever the header says and whatever the pages are: no
// rule of the format is enforced.
func Encode(f File) []byte {
	h := crc64.New(crc64.MakeTable(crc64.ISO))
	var out bytes.Buffer
	write := func(b []byte, hashed bool) {
		out.Write(b)
		if hashed {
			h.Write(b)
		}
	}
	hdr, _ := f.Header.MarshalBinary()
	write(hdr, true)
	var index []byte
	buf := make([]byte, lz4.CompressBlockBound(int(max(f.Header.PageSize, 512))))
	var c lz4.Compressor
	for _, p := range f.Pages {
		off := out.Len()
		n, err := c.CompressBlock(p.Data, buf)
		if err != nil || n == 0 {
			panic(fmt.Sprintf("ltxmutate: compress page %d: n=%d, %v", p.Pgno, n, err))
		}
		ph, _ := (&ltx.PageHeader{Pgno: p.Pgno, Flags: ltx.PageHeaderFlagSize}).MarshalBinary()
		write(ph, true)
		write(binary.BigEndian.AppendUint32(nil, uint32(n)), true)
		write(buf[:n], false) // the checksum covers the page, not its compressed form
		h.Write(p.Data)
		index = binary.AppendUvarint(index, uint64(p.Pgno))
		index = binary.AppendUvarint(index, uint64(off))
		index = binary.AppendUvarint(index, uint64(out.Len()-off))
	}
	write(make([]byte, ltx.PageHeaderSize), true) // end of the page block
	index = binary.AppendUvarint(index, 0)
	write(index, true)
	write(binary.BigEndian.AppendUint64(nil, uint64(len(index))), true)
	write(binary.BigEndian.AppendUint64(nil, uint64(f.PostApply)), true)
	write(binary.BigEndian.AppendUint64(nil, uint64(ltx.ChecksumFlag|ltx.Checksum(h.Sum64()))), false)
	return out.Bytes()
}

// Reseal returns b with its file checksum recomputed, so that edits to
// its header, page index or trailer pass the checksum. Every frame must
// still decode.
func Reseal(b []byte) ([]byte, error) {
	regions, err := Layout(b)
	if err != nil {
		return nil, err
	}
	h := crc64.New(crc64.MakeTable(crc64.ISO))
	pageSize := binary.BigEndian.Uint32(b[8:])
	for _, r := range regions {
		chunk := b[r.Off : r.Off+r.Len]
		switch {
		case r.Kind == FrameData:
			page := make([]byte, pageSize)
			if n, err := lz4.UncompressBlock(chunk, page); err != nil || n != int(pageSize) {
				return nil, fmt.Errorf("ltxmutate: reseal: %s does not decode to a page", r.Name)
			}
			h.Write(page)
		case r.Kind != FileChecksum:
			h.Write(chunk)
		}
	}
	out := append([]byte(nil), b...)
	binary.BigEndian.PutUint64(out[len(out)-8:], uint64(ltx.ChecksumFlag|ltx.Checksum(h.Sum64())))
	return out, nil
}

// Kind classifies a region.
type Kind int

// The kinds of region.
const (
	HeaderField Kind = iota
	FramePgno
	FrameFlags
	FrameSize
	FrameData
	EndMarker
	Index
	IndexSize
	PostApply
	FileChecksum
)

// Region is a structural part of an LTX file: bytes [Off, Off+Len).
type Region struct {
	Name     string
	Kind     Kind
	Off, Len int
	Frame    int    // the frame's position in the file (frame regions)
	Pgno     uint32 // the frame's page (frame regions)
}

// headerFields are the fields of the 100-byte header, in order.
var headerFields = []struct {
	name string
	len  int
}{
	{"magic", 4}, {"flags", 4}, {"page_size", 4}, {"commit", 4}, {"min_txid", 8}, {"max_txid", 8},
	{"timestamp", 8}, {"pre_apply_checksum", 8}, {"wal_offset", 8}, {"wal_size", 8},
	{"wal_salt1", 4}, {"wal_salt2", 4}, {"node_id", 8}, {"reserved", 20},
}

// Layout names every region of an LTX file in the block format, in file
// order; their lengths add up to the file's.
func Layout(b []byte) ([]Region, error) {
	if len(b) < ltx.HeaderSize+ltx.PageHeaderSize+9+ltx.TrailerSize {
		return nil, errors.New("ltxmutate: too short for an LTX file")
	}
	var out []Region
	off := 0
	for _, f := range headerFields {
		out = append(out, Region{Name: "header." + f.name, Kind: HeaderField, Off: off, Len: f.len})
		off += f.len
	}
	for i := 0; ; i++ {
		if off+ltx.PageHeaderSize > len(b) {
			return nil, errors.New("ltxmutate: page block runs past the end")
		}
		pgno := binary.BigEndian.Uint32(b[off:])
		flags := binary.BigEndian.Uint16(b[off+4:])
		if pgno == 0 && flags == 0 {
			out = append(out, Region{Name: "end_marker", Kind: EndMarker, Off: off, Len: ltx.PageHeaderSize})
			off += ltx.PageHeaderSize
			break
		}
		if flags&ltx.PageHeaderFlagSize == 0 || off+ltx.PageHeaderSize+4 > len(b) {
			return nil, fmt.Errorf("ltxmutate: frame %d is not in the block format", i)
		}
		n := int(binary.BigEndian.Uint32(b[off+ltx.PageHeaderSize:]))
		name := fmt.Sprintf("frame[%d](page %d).", i, pgno)
		out = append(out,
			Region{Name: name + "pgno", Kind: FramePgno, Off: off, Len: 4, Frame: i, Pgno: pgno},
			Region{Name: name + "flags", Kind: FrameFlags, Off: off + 4, Len: 2, Frame: i, Pgno: pgno},
			Region{Name: name + "size", Kind: FrameSize, Off: off + 6, Len: 4, Frame: i, Pgno: pgno},
			Region{Name: name + "data", Kind: FrameData, Off: off + 10, Len: n, Frame: i, Pgno: pgno})
		off += ltx.PageHeaderSize + 4 + n
		if off > len(b) {
			return nil, errors.New("ltxmutate: frame runs past the end")
		}
	}
	indexEnd := len(b) - ltx.TrailerSize - 8
	if indexEnd <= off {
		return nil, errors.New("ltxmutate: no room for the page index")
	}
	return append(out,
		Region{Name: "index", Kind: Index, Off: off, Len: indexEnd - off},
		Region{Name: "index_size", Kind: IndexSize, Off: indexEnd, Len: 8},
		Region{Name: "trailer.post_apply_checksum", Kind: PostApply, Off: indexEnd + 8, Len: 8},
		Region{Name: "trailer.file_checksum", Kind: FileChecksum, Off: indexEnd + 16, Len: 8},
	), nil
}

// Flip returns a copy of b with bit bit of byte off inverted.
func Flip(b []byte, off int, bit uint) []byte {
	out := append([]byte(nil), b...)
	out[off] ^= 1 << (bit % 8)
	return out
}
