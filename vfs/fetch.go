package vfs

import (
	"context"
	"fmt"

	"github.com/strata-db/strata/replica"
)

// page returns page pgno as of v, from the cache or from storage. A nil
// page with a nil error means the page holds zeros (never written, or the
// lock page). window > 1 asks to fetch that many following pages in the
// same request when they are adjacent in the same file (read-ahead).
func (db *database) page(ctx context.Context, v *view, pgno uint32, window int) ([]byte, error) {
	loc := v.lookup(pgno)
	if loc.file == nil {
		return nil, nil
	}
	k := pageKey{loc.file.File.Key(), pgno}
	if p, ok := db.cache.get(k); ok {
		return p, nil
	}
	if f, mine := db.cache.claim(k); !mine {
		select {
		case <-f.done:
			return f.page, f.err
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
	db.cache.misses.Add(1)
	frames, keys := db.readAhead(v, loc, pgno, window)
	pages, err := db.rep.ReadFrames(ctx, loc.file, frames)
	for i, key := range keys {
		var p []byte
		if err == nil {
			p = pages[i]
		}
		db.cache.finish(key, p, err)
	}
	if err != nil {
		return nil, fmt.Errorf("page %d from %s: %w", pgno, loc.file.File, err)
	}
	return pages[0], nil
}

// maxSkip is the most bytes a read-ahead range may carry that nobody asked
// for (frames of pages that are cached or superseded by later files): a
// little waste is far cheaper than another round trip.
const maxSkip = 256 << 10

// readAhead extends a fetch of pgno with the pages after it, up to window
// pages, that live in the same file close after it and are neither cached
// nor in flight, claiming each one it takes. Pages stored elsewhere are
// skipped, not a reason to stop: a snapshot overlaid by small level-0
// files still reads in long runs.
func (db *database) readAhead(v *view, loc pageLoc, pgno uint32, window int) ([]replica.Frame, []pageKey) {
	frames := []replica.Frame{loc.frame}
	keys := []pageKey{{loc.file.File.Key(), pgno}}
	end := loc.frame.Offset + int64(loc.frame.Size)
	for i := 1; i < window; i++ {
		next := v.lookup(pgno + uint32(i))
		if next.file != loc.file {
			continue
		}
		if next.frame.Offset < end || next.frame.Offset-end > maxSkip {
			break
		}
		k := pageKey{next.file.File.Key(), pgno + uint32(i)}
		if db.cache.contains(k) {
			continue
		}
		if _, mine := db.cache.claim(k); !mine {
			continue
		}
		frames = append(frames, next.frame)
		keys = append(keys, k)
		end = next.frame.Offset + int64(next.frame.Size)
	}
	return frames, keys
}
