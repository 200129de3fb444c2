package replica

import (
	"bufio"
	"bytes"
	"context"
	"encoding/binary"
	"fmt"
	"sort"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Frame locates one page frame inside an LTX file.
type Frame struct {
	Pgno   uint32
	Size   uint32
	Offset int64
}

// FileIndex is what a reader needs of one LTX file: its header and where
// each of its pages sits. Frames are sorted by page number.
type FileIndex struct {
	URL    string // the replica's
	File   storage.FileInfo
	Header ltx.Header
	Frames []Frame
}

// Lookup finds the frame of pgno in the file.
func (x *FileIndex) Lookup(pgno uint32) (Frame, bool) {
	i := sort.Search(len(x.Frames), func(i int) bool { return x.Frames[i].Pgno >= pgno })
	if i < len(x.Frames) && x.Frames[i].Pgno == pgno {
		return x.Frames[i], true
	}
	return Frame{}, false
}

// indexFooterSize is the page-index length field plus the trailer.
const indexFooterSize = 8 + ltx.TrailerSize

// minTail is the smallest tail read: small files come whole in one request.
const minTail = 64 << 10

// tailGuess sizes the first tail read so that the page index is inside it
// in the common case: index entries weigh a few bytes per frame, frames
// hundreds to thousands of bytes.
func tailGuess(size int64) int64 {
	return min(size, max(minTail, size/128))
}

// Index reads the header and page index of f. A small file costs one
// request; a large one a header read and a tail read made concurrently, and
// a third only if the index is larger than the guessed tail.
func (r *Replica) Index(ctx context.Context, f storage.FileInfo) (*FileIndex, error) {
	x, _, err := r.IndexAndData(ctx, f)
	return x, err
}

// IndexAndData is Index that also returns the whole file when it was small
// enough to be read whole anyway (nil otherwise), so that a caller can keep
// its pages without fetching them again. A file read whole is verified
// whole before it is returned (see Verify): its pages can be trusted as
// they are. Of a larger file, only what the header and the page index can
// tell is checked here; each frame is checked as it is read (ReadFrames).
func (r *Replica) IndexAndData(ctx context.Context, f storage.FileInfo) (*FileIndex, []byte, error) {
	if f.Size < ltx.HeaderSize+indexFooterSize {
		return nil, nil, r.corrupt(f, fmt.Errorf("file is %d bytes, too small for an LTX file", f.Size))
	}
	tailLen := tailGuess(f.Size)
	var head, tail []byte
	var err error
	if tailLen == f.Size {
		tail, err = r.ReadAt(ctx, f, 0, f.Size)
		head = tail
	} else {
		head, tail, err = r.readHeadAndTail(ctx, f, tailLen)
	}
	if err != nil {
		return nil, nil, err
	}
	hdr, err := r.parseHeader(f, head)
	if err != nil {
		return nil, nil, err
	}
	indexLen := int64(binary.BigEndian.Uint64(tail[len(tail)-indexFooterSize:]))
	if indexLen <= 0 || indexLen > f.Size-ltx.HeaderSize-ltx.PageHeaderSize-indexFooterSize {
		return nil, nil, r.corrupt(f, fmt.Errorf("page index size %d out of range", indexLen))
	}
	need := indexLen + indexFooterSize
	if need > int64(len(tail)) {
		if tail, err = r.ReadAt(ctx, f, f.Size-need, need); err != nil {
			return nil, nil, err
		}
	}
	raw := tail[int64(len(tail))-need : int64(len(tail))-ltx.TrailerSize] // entries, end marker, size field
	frames, err := parseFrames(raw, f.Size, hdr)
	if err != nil {
		return nil, nil, r.corrupt(f, err)
	}
	x := &FileIndex{URL: r.Store.String(), File: f, Header: hdr, Frames: frames}
	if tailLen != f.Size {
		return x, nil, r.checkFirstPage(x, head)
	}
	if err := r.verifyData(ctx, x, head); err != nil {
		return nil, nil, err
	}
	return x, head, nil
}

// headLen is how much of a large file's start is read with its header:
// enough for the frame of page 1 in most files, so that it can be checked
// against the header at no extra request.
const headLen = ltx.HeaderSize + 16<<10

// checkFirstPage decodes page 1 when its frame is in head (the start of
// the file) and checks it against the header: its page size and the
// database size SQLite records in it (see checkPage1).
func (r *Replica) checkFirstPage(x *FileIndex, head []byte) error {
	if len(x.Frames) == 0 || x.Frames[0].Pgno != 1 {
		return nil
	}
	fr := x.Frames[0]
	if fr.Offset+int64(fr.Size) > int64(len(head)) {
		return nil
	}
	page, err := DecodeFrame(head[fr.Offset:fr.Offset+int64(fr.Size)], 1, x.Header.PageSize)
	if err == nil {
		err = checkPage1(page, x.Header.Commit)
	}
	if err != nil {
		return r.corruptPage(x.File, 1, err)
	}
	return nil
}

func (r *Replica) readHeadAndTail(ctx context.Context, f storage.FileInfo, tailLen int64) (head, tail []byte, err error) {
	done := make(chan error, 1)
	go func() {
		var terr error
		tail, terr = r.ReadAt(ctx, f, f.Size-tailLen, tailLen)
		done <- terr
	}()
	head, err = r.ReadAt(ctx, f, 0, min(f.Size, headLen))
	if terr := <-done; err == nil {
		err = terr
	}
	return head, tail, err
}

// ParsedHeader returns f's header, fetching it once per Replica.
func (r *Replica) ParsedHeader(ctx context.Context, f storage.FileInfo) (ltx.Header, error) {
	if h, ok := r.cachedHeader(f); ok {
		return h, nil
	}
	if f.Size < ltx.HeaderSize { // a short read would otherwise be retried as transient
		return ltx.Header{}, r.corrupt(f, fmt.Errorf("file is %d bytes, too small for an LTX header", f.Size))
	}
	b, err := r.ReadAt(ctx, f, 0, ltx.HeaderSize)
	if err != nil {
		return ltx.Header{}, err
	}
	return r.parseHeader(f, b)
}

func (r *Replica) parseHeader(f storage.FileInfo, b []byte) (ltx.Header, error) {
	var h ltx.Header
	if err := h.UnmarshalBinary(b); err != nil {
		return h, r.corrupt(f, fmt.Errorf("bad header (wrong magic?): %w", err))
	}
	if err := h.Validate(); err != nil {
		return h, r.corrupt(f, fmt.Errorf("bad header: %w", err))
	}
	if err := checkHeader(f, h); err != nil {
		return h, r.corrupt(f, err)
	}
	r.rememberHeader(f, h)
	return h, nil
}

// maxPages is SQLite's largest page count.
const maxPages = 0xFFFFFFFE

// maxFrameSize bounds a frame: page header, size field, and the largest
// LZ4 block a 64 KiB page can compress to.
const maxFrameSize = ltx.PageHeaderSize + 4 + int64(ltx.MaxPageSize)*2

// parseFrames decodes the page index (raw: its entries, end marker and
// size field) and checks it against the header and against the layout
// every LTX encoder writes: frames in ascending page order, each right
// after the one before, the first right after the header and the last
// right before the empty page header that ends the page block. A frame
// read by range is then exactly where the index says, or the index is
// rejected here. A file starting at TXID 1 is a complete database: it
// must hold every page up to its Commit but the lock page.
func parseFrames(raw []byte, fileSize int64, hdr ltx.Header) ([]Frame, error) {
	idx, err := ltx.DecodePageIndex(bufio.NewReader(bytes.NewReader(raw)), 0, hdr.MinTXID, hdr.MaxTXID)
	if err != nil {
		return nil, fmt.Errorf("page index: %w", err)
	}
	frames := make([]Frame, 0, len(idx))
	for pgno, e := range idx {
		if e.Size <= ltx.PageHeaderSize || e.Size > maxFrameSize {
			return nil, fmt.Errorf("page index entry for page %d (offset %d, size %d) is out of bounds: a frame is %d to %d bytes",
				pgno, e.Offset, e.Size, ltx.PageHeaderSize+1, maxFrameSize)
		}
		frames = append(frames, Frame{Pgno: pgno, Offset: e.Offset, Size: uint32(e.Size)})
	}
	sort.Slice(frames, func(i, j int) bool { return frames[i].Pgno < frames[j].Pgno })
	pagesEnd := fileSize - int64(len(raw)) - ltx.TrailerSize - ltx.PageHeaderSize
	lock := ltx.LockPgno(hdr.PageSize)
	next := int64(ltx.HeaderSize)
	for _, fr := range frames {
		switch {
		case fr.Pgno > hdr.Commit:
			return nil, fmt.Errorf("page index entry for page %d is out of bounds: the header says the database has %d pages", fr.Pgno, hdr.Commit)
		case fr.Pgno == lock:
			return nil, fmt.Errorf("page index entry for page %d is out of bounds: it is the lock page, which is never stored", fr.Pgno)
		case fr.Offset != next || fr.Offset > pagesEnd-int64(fr.Size):
			return nil, fmt.Errorf("page index entry for page %d (offset %d, size %d) is out of bounds: frames follow each other from offset %d to %d, this one should start at %d",
				fr.Pgno, fr.Offset, fr.Size, ltx.HeaderSize, pagesEnd, next)
		}
		next = fr.Offset + int64(fr.Size)
	}
	if next != pagesEnd {
		return nil, fmt.Errorf("page index accounts for the page block up to offset %d, but it ends at %d", next, pagesEnd)
	}
	if hdr.MinTXID == 1 {
		if need := newPages(0, hdr.Commit, lock); uint32(len(frames)) != need {
			return nil, growthError(0, hdr.Commit, uint32(len(frames)), need)
		}
	}
	return frames, nil
}

// CorruptError reports a file whose contents are not a valid LTX file, or
// not the file its name and header say it is.
type CorruptError struct {
	URL  string           // the replica
	File storage.FileInfo // the file: level and TXID range (its key)
	Pgno uint32           // the page concerned, 0 when the damage is not a page's
	Err  error
}

func (e *CorruptError) Error() string {
	if e.Pgno != 0 {
		return fmt.Sprintf("%s: corrupt LTX file %s, page %d: %v", e.URL, e.File, e.Pgno, e.Err)
	}
	return fmt.Sprintf("%s: corrupt LTX file %s: %v", e.URL, e.File, e.Err)
}

func (e *CorruptError) Unwrap() error { return e.Err }

// Permanent tells storage.IsTransient not to retry: reading a corrupt file
// again gives the same bytes.
func (e *CorruptError) Permanent() bool { return true }

func (r *Replica) corrupt(f storage.FileInfo, err error) error {
	return &CorruptError{URL: r.Store.String(), File: f, Err: err}
}

func (r *Replica) corruptPage(f storage.FileInfo, pgno uint32, err error) error {
	return &CorruptError{URL: r.Store.String(), File: f, Pgno: pgno, Err: err}
}
