package replica

import (
	"fmt"
	"io"
	"os"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// FileHeader is what a writer says about an LTX file it encodes; the
// rest of ltx.Header is fixed by the format strata writes.
type FileHeader struct {
	PageSize         uint32
	Commit           uint32 // database size in pages after the file
	MinTXID, MaxTXID ltx.TXID
	Timestamp        time.Time // commit time (kept to the millisecond)
	// NodeID names the writer session that made the file, so that a writer
	// whose upload answer was lost can recognize its own file.
	NodeID uint64
}

// Header is the ltx.Header of the file: the flags Litestream 0.5 writes
// (no rolling database checksum; the file checksum is always there).
func (h FileHeader) Header() ltx.Header {
	return ltx.Header{
		Version:   ltx.Version,
		Flags:     ltx.HeaderFlagNoChecksum,
		PageSize:  h.PageSize,
		Commit:    h.Commit,
		MinTXID:   h.MinTXID,
		MaxTXID:   h.MaxTXID,
		Timestamp: h.Timestamp.UnixMilli(),
		NodeID:    h.NodeID,
	}
}

// Encoder writes one LTX file as a stream: the header, then pages in
// ascending page number, then the page index and trailer on Close. It is
// the one encoder of the project (import, the writer, tests and the
// benchmark use it; the compactor merges with ltx.Compactor). Memory does
// not grow with the file: pages are compressed one at a time, and the
// page index spills to a temporary file past ltx's threshold.
//
// It also records where each frame went, so that a writer can index the
// file it uploaded without reading it back (Index).
type Encoder struct {
	enc    *ltx.Encoder
	hdr    ltx.Header
	file   FileIndex
	record bool
}

// NewEncoder starts an LTX file with header h on w. record asks the
// encoder to keep the page index in memory for Index (16 bytes a page).
func NewEncoder(w io.Writer, h FileHeader, record bool) (*Encoder, error) {
	hdr := h.Header()
	if err := hdr.Validate(); err != nil {
		return nil, fmt.Errorf("LTX header for TXIDs %s-%s: %w", h.MinTXID, h.MaxTXID, err)
	}
	enc, err := ltx.NewEncoder(w)
	if err != nil {
		return nil, err
	}
	enc.SetSpillDir(os.TempDir())
	if err := enc.EncodeHeader(hdr); err != nil {
		return nil, fmt.Errorf("encode header of TXIDs %s-%s: %w", h.MinTXID, h.MaxTXID, err)
	}
	return &Encoder{enc: enc, hdr: hdr, record: record, file: FileIndex{Header: hdr}}, nil
}

// WritePage adds page pgno. Pages must come in ascending order, never the
// lock page, never past Commit; a snapshot (MinTXID 1) must hold every
// page from 1 to Commit but the lock page.
func (e *Encoder) WritePage(pgno uint32, data []byte) error {
	off := e.enc.N()
	if err := e.enc.EncodePage(ltx.PageHeader{Pgno: pgno}, data); err != nil {
		return fmt.Errorf("encode page %d of TXIDs %s-%s: %w", pgno, e.hdr.MinTXID, e.hdr.MaxTXID, err)
	}
	if e.record {
		e.file.Frames = append(e.file.Frames, Frame{Pgno: pgno, Offset: off, Size: uint32(e.enc.N() - off)})
	}
	return nil
}

// Close writes the page index and the trailer.
func (e *Encoder) Close() error {
	if err := e.enc.Close(); err != nil {
		_ = e.enc.Cleanup()
		return fmt.Errorf("finish LTX file of TXIDs %s-%s: %w", e.hdr.MinTXID, e.hdr.MaxTXID, err)
	}
	return nil
}

// Abort gives up the file (removing any spilled index).
func (e *Encoder) Abort() { _ = e.enc.Cleanup() }

// Size is the number of bytes written so far; after Close, the file's size.
func (e *Encoder) Size() int64 { return e.enc.N() }

// Index is the file's header and page index as a reader would build it,
// valid after Close when the encoder was created with record set. f names
// the file in storage.
func (e *Encoder) Index(f storage.FileInfo) *FileIndex {
	x := e.file
	x.File = f
	x.File.Size = e.enc.N()
	return &x
}
