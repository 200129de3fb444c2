package engine

import (
	"fmt"
	"os"
	"slices"
)

// overlay holds the pages a write transaction has written and not yet
// committed, in a local spill file rather than in memory: a transaction
// touching a gigabyte of pages needs a gigabyte of disk, and about 16
// bytes of memory per page. The spill file is unlinked as soon as it is
// created; it is reused by the writer's next transaction.
//
// An overlay is used by one transaction at a time (the writer's lock
// serializes them), so it needs no lock of its own.
type overlay struct {
	f        *os.File
	pageSize uint32
	slots    map[uint32]int64 // page number -> offset in f
	end      int64            // where the next new page goes
}

// newOverlay creates an anonymous spill file in dir.
func newOverlay(dir string) (*overlay, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("write buffer directory %s: %w", dir, err)
	}
	f, err := os.CreateTemp(dir, ".strata-txn-*")
	if err != nil {
		return nil, fmt.Errorf("write buffer: %w", err)
	}
	_ = os.Remove(f.Name()) // anonymous: nothing to clean up after a crash
	return &overlay{f: f, slots: make(map[uint32]int64)}, nil
}

// put stores one whole page.
func (o *overlay) put(pgno uint32, data []byte) error {
	off, ok := o.slots[pgno]
	if !ok {
		off = o.end
	}
	if _, err := o.f.WriteAt(data, off); err != nil {
		return fmt.Errorf("write page %d to the write buffer: %w", pgno, err)
	}
	if !ok {
		o.slots[pgno] = off
		o.end += int64(len(data))
	}
	return nil
}

// get reads page pgno into buf (len(buf) == pageSize) if the overlay has it.
func (o *overlay) get(pgno uint32, buf []byte) (bool, error) {
	off, ok := o.slots[pgno]
	if !ok {
		return false, nil
	}
	if _, err := o.f.ReadAt(buf, off); err != nil {
		return false, fmt.Errorf("read page %d from the write buffer: %w", pgno, err)
	}
	return true, nil
}

// drop forgets pages above n (a truncation).
func (o *overlay) drop(n uint32) {
	for pgno := range o.slots {
		if pgno > n {
			delete(o.slots, pgno)
		}
	}
}

// pgnos lists the pages held, ascending.
func (o *overlay) pgnos() []uint32 {
	out := make([]uint32, 0, len(o.slots))
	for pgno := range o.slots {
		out = append(out, pgno)
	}
	slices.Sort(out)
	return out
}

// reset empties the overlay for the next transaction, keeping its file.
func (o *overlay) reset() {
	clear(o.slots)
	o.end = 0
	o.pageSize = 0
	_ = o.f.Truncate(0)
}

func (o *overlay) close() error { return o.f.Close() }
