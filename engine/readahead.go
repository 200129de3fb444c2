package engine

// maxWindow caps read-ahead at 256 pages (1 MiB of 4 KiB pages) per request.
const maxWindow = 256

// nearGap is how far forward a read may land and still count as part of a
// scan: a table's leaves sit between its index's pages in the file, so a
// scan of either reads every page or two, not every one.
const nearGap = 16

// readAhead adapts a connection's fetch window: it doubles while SQLite
// reads forward through the file and quarters on a jump, so scans make few
// large requests and point lookups soon pay for nothing extra.
type readAhead struct {
	last   uint32
	window int
}

// next records a read of pgno and returns the window to fetch with.
func (r *readAhead) next(pgno uint32) int {
	switch {
	case r.last != 0 && pgno > r.last && pgno-r.last <= nearGap:
		r.window = min(max(r.window*2, 2), maxWindow)
	case pgno == r.last:
		// a re-read of the same page changes nothing
	default:
		r.window = max(r.window/4, 1)
	}
	r.last = pgno
	return r.window
}
