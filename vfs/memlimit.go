package vfs

import (
	"math"
	"os"
	"runtime/debug"
)

// memoryHeadroom is what Go's heap may use beyond the page caches: page
// indexes, buffers of requests in flight, the garbage collector's slack.
// It leaves about 24 MiB of a 64 MiB budget to what Go does not manage:
// the program's code, SQLite's own page caches, C stacks.
const memoryHeadroom = 40 << 20

// adjustMemoryLimit sets Go's soft memory limit to the page caches and page
// indexes of the open replicas plus memoryHeadroom, when Config.ManageMemory asks for it
// and GOMEMLIMIT does not say otherwise. Without a limit the collector
// lets the heap grow to twice what is live, so a 64 MiB cache could cost
// 128 MiB and more. Called with v.mu held.
func (v *VFS) adjustMemoryLimit() {
	if !v.cfg.ManageMemory || os.Getenv("GOMEMLIMIT") != "" {
		return
	}
	var need int64
	for _, e := range v.dbs {
		if e.db != nil {
			need += e.db.cfg.CacheSize + int64(e.db.latest().commit)*indexBytesPerPage
		}
	}
	if need == 0 {
		debug.SetMemoryLimit(math.MaxInt64)
		return
	}
	debug.SetMemoryLimit(need + memoryHeadroom)
}

// indexBytesPerPage is what the page indexes of a replica cost per page of
// its database, besides the cache: the latest view (24 bytes), the
// snapshot's frame list (16), and room for a view of the past. Counting it
// keeps a large database's own bookkeeping from pushing the live heap
// over the limit, where the collector would run without pause. It is
// recounted whenever a replica's size changes.
const indexBytesPerPage = 64
