package engine

import (
	"context"
	"errors"
	"fmt"
	"sync"

	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
)

// page returns page pgno as of v, from the cache or from storage. A nil
// page with a nil error means the page holds zeros (never written, or the
// lock page). window > 1 asks to fetch the following pages too (read-ahead);
// extra names more pages to fetch in the same round trip if pgno must be
// fetched (B-tree siblings). watch, if not nil, is called before the read
// waits on storage: the context it returns stops the wait (an interrupted
// connection), and its stop function is called when the wait is over.
func (db *Database) page(ctx context.Context, v *View, pgno uint32, window int, watch watcher, extra ...uint32) ([]byte, error) {
	loc := v.lookup(pgno)
	if loc.src == nil {
		return nil, nil
	}
	if loc.src.buf != nil {
		return loc.src.buf.readPage(loc.frame) // a pending local commit
	}
	if h := db.hyd.Load(); h != nil {
		if p, ok := h.read(v, pgno, loc); ok {
			return p, nil // the hydrated file holds this version
		}
	}
	k := pageKey{loc.src.key(), pgno}
	if p, ok := db.cache.get(k); ok {
		return p, nil
	}
	if watch != nil {
		var stop func()
		ctx, stop = watch(ctx)
		defer stop()
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
	batches := db.readAhead(v, loc, pgno, window)
	batches = db.addExtra(v, batches, extra)
	var wg sync.WaitGroup
	for _, b := range batches[1:] {
		wg.Go(func() { db.fetch(ctx, b) })
	}
	pages, err := db.fetch(ctx, batches[0])
	wg.Wait()
	if err != nil {
		return nil, fmt.Errorf("page %d from %s: %w", pgno, loc.src.file.File, err)
	}
	return pages[0], nil
}

// watcher arms a wait on storage: see page.
type watcher func(context.Context) (context.Context, func())

// batch is one range request: frames of one file, and the cache keys
// claimed for them.
type batch struct {
	src    *source
	frames []replica.Frame
	keys   []pageKey
	end    int64 // file offset just past the last frame
}

func (b *batch) add(fr replica.Frame, k pageKey) {
	b.frames = append(b.frames, fr)
	b.keys = append(b.keys, k)
	b.end = fr.Offset + int64(fr.Size)
}

// fits reports whether fr can extend b's range without carrying more
// than skip unrequested bytes.
func (b *batch) fits(fr replica.Frame, skip int64) bool {
	return fr.Offset >= b.end && fr.Offset-b.end <= skip
}

// fetch reads a batch and settles its claims. When one frame of a
// read-ahead batch does not decode, the first page (the one asked for) is
// fetched alone, so a damaged neighbour does not fail it. Whatever happens
// (a panic included), every claim is settled: readers waiting on a page
// never wait for a fetch that is gone.
func (db *Database) fetch(ctx context.Context, b *batch) ([][]byte, error) {
	var pages [][]byte
	err := safe.Call("fetch", func() (err error) {
		pages, err = db.rep.ReadFrames(ctx, b.src.file, b.frames)
		var ce *replica.CorruptError
		if err != nil && len(b.frames) > 1 && errors.As(err, &ce) {
			if first, ferr := db.rep.ReadFrames(ctx, b.src.file, b.frames[:1]); ferr == nil {
				db.cache.finish(b.keys[0], first[0], nil)
				for _, key := range b.keys[1:] {
					db.cache.finish(key, nil, err)
				}
				b.keys = nil // settled
				pages = first
				return nil
			}
		}
		return err
	})
	for i, key := range b.keys {
		var p []byte
		if err == nil {
			p = pages[i]
		}
		db.cache.finish(key, p, err)
	}
	return pages, err
}

// maxSkip is the most bytes a read-ahead range may carry that nobody asked
// for (frames of pages that are cached or superseded by later files): a
// little waste is far cheaper than another round trip.
const maxSkip = 256 << 10

// maxSideBatches bounds the extra requests one read-ahead may start for
// pages of the window that live in other files.
const maxSideBatches = 16

// readAhead plans the fetch of pgno and of the window pages after it that
// are neither cached nor in flight, claiming each page it takes. The first
// batch holds pgno and the pages close after it in the same file; pages of
// the window stored in other files (a snapshot overlaid by level-0 files)
// go into one batch per file, fetched in parallel with the first, so a
// scan pays about one round trip per window whatever the overlay.
func (db *Database) readAhead(v *View, loc pageLoc, pgno uint32, window int) []*batch {
	main := &batch{src: loc.src}
	main.add(loc.frame, pageKey{loc.src.key(), pgno})
	side := map[*source]*batch{}
	batches := []*batch{main}
	for i := 1; i < window; i++ {
		next := v.lookup(pgno + uint32(i))
		if next.src == nil || next.src.file == nil {
			continue
		}
		k := pageKey{next.src.key(), pgno + uint32(i)}
		if next.src == loc.src && !main.fits(next.frame, maxSkip) {
			break
		}
		b := main
		if next.src != loc.src {
			b = side[next.src]
			if (b == nil && len(side) >= maxSideBatches) || (b != nil && !b.fits(next.frame, maxSkip)) {
				continue
			}
		}
		if db.cache.contains(k) {
			continue
		}
		if _, mine := db.cache.claim(k); !mine {
			continue
		}
		if b == nil {
			b = &batch{src: next.src}
			side[next.src] = b
			batches = append(batches, b)
		}
		b.add(next.frame, k)
	}
	return batches
}

// maxExtraSkip is maxSkip for extra pages: they are guesses (siblings a
// scan will probably read), so they may drag along fewer unasked bytes.
const maxExtraSkip = 32 << 10

// maxBatches bounds the requests one read starts in parallel.
const maxBatches = 64

// addExtra adds pages to the planned batches: to a batch of the same file
// whose range they extend cheaply, else to a batch of their own.
func (db *Database) addExtra(v *View, batches []*batch, extra []uint32) []*batch {
	for _, pgno := range extra {
		loc := v.lookup(pgno)
		if loc.src == nil || loc.src.file == nil {
			continue
		}
		k := pageKey{loc.src.key(), pgno}
		var b *batch
		for _, cand := range batches {
			if cand.src == loc.src && cand.fits(loc.frame, maxExtraSkip) {
				b = cand
				break
			}
		}
		if (b == nil && len(batches) >= maxBatches) || db.cache.contains(k) {
			continue
		}
		if _, mine := db.cache.claim(k); !mine {
			continue
		}
		if b == nil {
			b = &batch{src: loc.src}
			batches = append(batches, b)
		}
		b.add(loc.frame, k)
	}
	return batches
}
