package dataset

import (
	"bytes"
	"fmt"
	"hash/maphash"
	"io"
	"os"
)

// PageHashes fingerprints every page of a database file, so that the
// pages a transaction changed can be found by re-reading the file once,
// without keeping a second copy of it.
type PageHashes struct {
	seed     maphash.Seed
	pageSize uint32
	sums     []uint64
}

// NewPageHashes fingerprints the database file at path.
func NewPageHashes(path string, pageSize uint32) (*PageHashes, error) {
	h := &PageHashes{seed: maphash.MakeSeed(), pageSize: pageSize}
	_, _, err := h.Update(path)
	return h, err
}

// Update re-reads the file at path and returns the pages whose content
// changed since the last call (or that are new), and the file's size in
// pages. A 64-bit keyed hash makes a missed change vanishingly unlikely.
func (h *PageHashes) Update(path string) (changed []Page, pages uint32, err error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, 0, err
	}
	defer f.Close()
	// Large reads keep this fast; page-sized ones would be syscall-bound.
	buf := make([]byte, int(h.pageSize)*256)
	var sums []uint64
	for {
		n, rerr := io.ReadFull(f, buf)
		if n%int(h.pageSize) != 0 {
			return nil, 0, fmt.Errorf("%s: size is not a multiple of the page size %d", path, h.pageSize)
		}
		for off := 0; off < n; off += int(h.pageSize) {
			page := buf[off : off+int(h.pageSize)]
			sum := maphash.Bytes(h.seed, page)
			i := len(sums)
			if i >= len(h.sums) || h.sums[i] != sum {
				changed = append(changed, Page{Pgno: uint32(i + 1), Data: bytes.Clone(page)})
			}
			sums = append(sums, sum)
		}
		if rerr == io.EOF || rerr == io.ErrUnexpectedEOF {
			break
		} else if rerr != nil {
			return nil, 0, fmt.Errorf("read %s: %w", path, rerr)
		}
	}
	h.sums = sums
	return changed, uint32(len(sums)), nil
}
