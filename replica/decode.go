package replica

import (
	"context"
	"errors"
	"fmt"
	"io"

	"github.com/pierrec/lz4/v4"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// decodeStream decodes one whole LTX file from src, checks everything the
// format records (the checksum of every byte, the page index against the
// pages, the header against the pages present), and hands each page to
// sink in page-number order. sink's buffer is reused: copy what it keeps.
//
// ctx is checked between pages: a cancelled decode returns an error
// matching ctx.Err(), never a CorruptError.
func (r *Replica) decodeStream(ctx context.Context, f storage.FileInfo, src io.Reader, want expect, sink func(pgno uint32, page []byte) error) (ltx.Header, error) {
	cr := &countingReader{r: src}
	dec := ltx.NewDecoder(cr)
	dec.SetRetainPageIndex(false)
	if err := dec.DecodeHeader(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return ltx.Header{}, interrupted(r, f, cerr)
		}
		return ltx.Header{}, r.corrupt(f, fmt.Errorf("header: %w", err))
	}
	hdr := dec.Header()
	if err := checkHeader(f, hdr); err != nil {
		return hdr, r.corrupt(f, err)
	}
	lock := ltx.LockPgno(hdr.PageSize)
	buf := make([]byte, hdr.PageSize)
	grownFrom := want.grownFrom(hdr)
	var prev, grown uint32
	var spare []byte
	sawPage1 := false
	for n := 0; ; n++ {
		if n%64 == 0 {
			if err := ctx.Err(); err != nil {
				return hdr, interrupted(r, f, err)
			}
		}
		var ph ltx.PageHeader
		at := cr.n
		cr.kept, cr.keep = cr.kept[:0], true
		err := dec.DecodePage(&ph, buf)
		cr.keep = false
		if err == io.EOF {
			break
		} else if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return hdr, interrupted(r, f, cerr)
			}
			return hdr, r.corrupt(f, fmt.Errorf("frame after page %d: %w", prev, err))
		}
		if err := exactBlock(ph, cr.kept, scratch(&spare, len(buf))); err != nil {
			return hdr, r.corruptPage(f, ph.Pgno, err)
		}
		switch {
		case ph.Pgno <= prev:
			return hdr, r.corruptPage(f, ph.Pgno, fmt.Errorf("page %d follows page %d (pages must ascend)", ph.Pgno, prev))
		case ph.Pgno > hdr.Commit:
			return hdr, r.corruptPage(f, ph.Pgno, fmt.Errorf("page %d is beyond the database size in the header (%d pages)", ph.Pgno, hdr.Commit))
		case ph.Pgno == lock:
			return hdr, r.corruptPage(f, ph.Pgno, fmt.Errorf("page %d is the lock page, which is never stored", ph.Pgno))
		}
		if want.frames != nil {
			if err := checkFrame(want.frames, n, ph, at, cr.n); err != nil {
				return hdr, r.corruptPage(f, ph.Pgno, err)
			}
		}
		if ph.Pgno == 1 {
			sawPage1 = true
			if err := checkPage1(buf, hdr.Commit); err != nil {
				return hdr, r.corruptPage(f, 1, err)
			}
		}
		prev = ph.Pgno
		if ph.Pgno > grownFrom {
			grown++
		}
		if err := sink(ph.Pgno, buf); err != nil {
			return hdr, err
		}
	}
	if want.frames != nil && dec.PageN() != len(want.frames) {
		return hdr, r.corrupt(f, fmt.Errorf("the page index lists %d pages, the file holds %d", len(want.frames), dec.PageN()))
	}
	if err := dec.Close(); err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return hdr, interrupted(r, f, cerr)
		}
		return hdr, r.corrupt(f, fmt.Errorf("verify: %w", err))
	}
	if need := newPages(grownFrom, hdr.Commit, lock); grown < need {
		return hdr, r.corrupt(f, growthError(grownFrom, hdr.Commit, grown, need))
	}
	if sized := hdr.MinTXID == 1 || want.known; sized && hdr.Commit != grownFrom && hdr.Commit != 0 && !sawPage1 {
		return hdr, r.corrupt(f, resizeError(grownFrom, hdr.Commit))
	}
	return hdr, nil
}

// expect is what decodeStream checks beyond the format itself.
type expect struct {
	// size is the database size in pages before the file is applied
	// (known is false when it is not known). A file whose Commit grows
	// the database must hold every new page, because SQLite writes every
	// page it adds: a header claiming more pages than the chain holds is
	// thereby an error, not a sparse hole in a restored file. A file that
	// starts at TXID 1 is a complete database whatever size is given.
	size  uint32
	known bool
	// frames, when set, is the page index a range reader would use: each
	// frame must be exactly where it says.
	frames []Frame
}

func (e expect) grownFrom(h ltx.Header) uint32 {
	switch {
	case h.MinTXID == 1:
		return 0
	case e.known:
		return e.size
	default:
		return h.Commit // nothing is known to be new
	}
}

// checkFrame compares the n-th frame decoded, which spans [from, to) of
// the file, with the page index. Frames in the older LZ4-frame format are
// read through a buffer, so only their page number is compared.
func checkFrame(frames []Frame, n int, ph ltx.PageHeader, from, to int64) error {
	if n >= len(frames) {
		return fmt.Errorf("page %d is not in the page index", ph.Pgno)
	}
	fr := frames[n]
	if fr.Pgno != ph.Pgno {
		return fmt.Errorf("frame %d holds page %d, the page index says page %d", n+1, ph.Pgno, fr.Pgno)
	}
	if ph.Flags&ltx.PageHeaderFlagSize != 0 && (fr.Offset != from || int64(fr.Size) != to-from) {
		return fmt.Errorf("the frame is at offset %d (%d bytes), the page index says offset %d (%d bytes)", from, to-from, fr.Offset, fr.Size)
	}
	return nil
}

// countingReader counts the bytes read through it, and keeps them while
// keep is set.
type countingReader struct {
	r    io.Reader
	n    int64
	keep bool
	kept []byte
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	if c.keep {
		c.kept = append(c.kept, p[:n]...)
	}
	return n, err
}

// exactBlock checks that the LZ4 block of a block-format frame (raw: the
// frame as read) decodes to exactly one page. The ltx decoder does not:
// a block that decodes short leaves the rest of its page buffer as the
// page before left it, and passes the checksum when those bytes happen to
// match.
func exactBlock(ph ltx.PageHeader, raw, page []byte) error {
	if ph.Flags&ltx.PageHeaderFlagSize == 0 || len(raw) < ltx.PageHeaderSize+4 {
		return nil // the older LZ4-frame format: its reader fails a short page
	}
	n, err := lz4.UncompressBlock(raw[ltx.PageHeaderSize+4:], page)
	if err != nil {
		return fmt.Errorf("decompress: %w", err)
	}
	if n != len(page) {
		return fmt.Errorf("decompressed to %d bytes, page size is %d", n, len(page))
	}
	return nil
}

// scratch returns a buffer of n bytes, reusing *spare.
func scratch(spare *[]byte, n int) []byte {
	if len(*spare) != n {
		*spare = make([]byte, n)
	}
	return *spare
}

// checkHeader checks what a header says against the file's name and
// SQLite's limits (the ltx package has validated its fields).
func checkHeader(f storage.FileInfo, h ltx.Header) error {
	if h.MinTXID != f.MinTXID || h.MaxTXID != f.MaxTXID {
		return fmt.Errorf("header says TXIDs %s-%s, name says %s-%s", h.MinTXID, h.MaxTXID, f.MinTXID, f.MaxTXID)
	}
	if h.Commit > maxPages {
		return fmt.Errorf("header says %d pages, more than SQLite allows", h.Commit)
	}
	return nil
}

// interrupted wraps a context error so that callers can tell an
// interruption (errors.Is context.Canceled or DeadlineExceeded) from
// corruption.
func interrupted(r *Replica, f storage.FileInfo, err error) error {
	return fmt.Errorf("%s: interrupted while reading %s: %w", r.Store, f, err)
}

// isInterruption reports whether err is a context's cancellation or deadline.
func isInterruption(err error) bool {
	return errors.Is(err, context.Canceled) || errors.Is(err, context.DeadlineExceeded)
}
