package engine

import (
	"context"
	"math"
	"os"
	"runtime/debug"
	"sync"
)

// Registry keeps one Database per replica in the process, shared by every
// connection that opens it: a pool of ten connections means one poller,
// one cache and one page index, not ten.
//
// mu guards dbs. It is never held across I/O: a replica being opened has
// an entry whose ready channel later callers for the same replica wait
// on, so one replica is never opened twice and a slow open blocks nobody
// else.
type Registry struct {
	// ManageMemory sets Go's soft memory limit to the page caches and page
	// indexes of the open replicas plus memoryHeadroom (unless GOMEMLIMIT
	// is set). For programs that own their process.
	ManageMemory bool

	mu  sync.Mutex
	dbs map[string]*entry
}

// entry is one replica's slot: db is set, or err, when ready is closed.
type entry struct {
	ready chan struct{}
	db    *Database
	err   error
	refs  int
}

// Acquire returns the database of the replica named key (its canonical
// URL), opening it with open if nobody has it open. Every Acquire is
// matched by a Release.
func (r *Registry) Acquire(ctx context.Context, key string, open func(ctx context.Context, resized func()) (*Database, error)) (*Database, error) {
	r.mu.Lock()
	if r.dbs == nil {
		r.dbs = make(map[string]*entry)
	}
	for {
		e, ok := r.dbs[key]
		if !ok {
			break
		}
		if e.db != nil {
			e.refs++
			r.mu.Unlock()
			return e.db, nil
		}
		r.mu.Unlock()
		select {
		case <-e.ready:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
		if e.err != nil {
			return nil, e.err
		}
		r.mu.Lock()
	}
	e := &entry{ready: make(chan struct{})}
	r.dbs[key] = e
	r.mu.Unlock()

	db, err := open(ctx, r.recount)
	r.mu.Lock()
	if err != nil {
		delete(r.dbs, key)
		e.err = err
	} else {
		e.db, e.refs = db, 1
		r.adjustMemoryLimit()
	}
	r.mu.Unlock()
	close(e.ready)
	return db, err
}

// Release drops a reference taken by Acquire; the last one closes the
// database (stopping its poller) and forgets it.
func (r *Registry) Release(key string, db *Database) {
	r.mu.Lock()
	e, ok := r.dbs[key]
	last := false
	if ok && e.db == db {
		e.refs--
		if last = e.refs == 0; last {
			delete(r.dbs, key)
			r.adjustMemoryLimit()
		}
	}
	r.mu.Unlock()
	if last {
		db.Close()
	}
}

// Get returns the open database of key, if any, without taking a reference.
func (r *Registry) Get(key string) (*Database, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	e, ok := r.dbs[key]
	if !ok || e.db == nil {
		return nil, false
	}
	return e.db, true
}

// recount recomputes the memory limit after a replica's size changed.
func (r *Registry) recount() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.adjustMemoryLimit()
}

// memoryHeadroom is what Go's heap may use beyond the page caches: page
// indexes, buffers of requests in flight, the garbage collector's slack.
// It leaves about 24 MiB of a 64 MiB budget to what Go does not manage:
// the program's code, SQLite's own page caches, C stacks.
const memoryHeadroom = 40 << 20

// indexBytesPerPage is what the page indexes of a replica cost per page of
// its database, besides the cache: the latest view (24 bytes), the
// snapshot's frame list (16), and room for a view of the past. Counting it
// keeps a large database's own bookkeeping from pushing the live heap
// over the limit, where the collector would run without pause. It is
// recounted whenever a replica's size changes.
const indexBytesPerPage = 64

// adjustMemoryLimit sets Go's soft memory limit to the page caches and
// page indexes of the open replicas plus memoryHeadroom, when
// ManageMemory asks for it and GOMEMLIMIT does not say otherwise. Without
// a limit the collector lets the heap grow to twice what is live, so a
// 64 MiB cache could cost 128 MiB and more. Called with r.mu held.
func (r *Registry) adjustMemoryLimit() {
	if !r.ManageMemory || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	var need int64
	for _, e := range r.dbs {
		if e.db != nil {
			need += e.db.opts.CacheSize + int64(e.db.Latest().commit)*indexBytesPerPage
		}
	}
	if need == 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return
	}
	debug.SetMemoryLimit(need + memoryHeadroom)
}
