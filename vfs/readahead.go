package vfs

// maxWindow caps read-ahead at 256 pages (1 MiB of 4 KiB pages) per request.
const maxWindow = 256

// readAhead adapts a connection's fetch window: it doubles while SQLite
// reads pages in sequence and falls back to one page on a random read, so
// scans make few large requests and point lookups pay for nothing extra.
type readAhead struct {
	last   uint32
	window int
}

// next records a read of pgno and returns the window to fetch with.
func (r *readAhead) next(pgno uint32) int {
	switch {
	case r.last != 0 && pgno == r.last+1:
		r.window = min(max(r.window*2, 2), maxWindow)
	case pgno == r.last:
		// a re-read of the same page changes nothing
	default:
		r.window = 1
	}
	r.last = pgno
	return r.window
}
