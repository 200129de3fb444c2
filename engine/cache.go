package engine

import (
	"sync"
	"sync/atomic"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/strata-db/strata/storage"
)

// pageKey names one version of one page: the file it came from and its
// number. A new version lives in a new file, so a cached page is never
// stale; replaced versions are evicted when a newer view is published.
type pageKey struct {
	file storage.FileKey
	pgno uint32
}

// pageCache is an LRU of decoded pages bounded in bytes, shared by every
// connection to one replica, with single-flight loading: a page being
// fetched is never fetched a second time by another reader.
//
// mu guards inflight; the LRU has its own lock.
type pageCache struct {
	maxBytes int64
	lru      *lru.Cache[pageKey, []byte]

	mu       sync.Mutex
	inflight map[pageKey]*flight

	hits, misses atomic.Int64
}

// flight is one fetch in progress; done is closed when page/err are set.
type flight struct {
	done chan struct{}
	page []byte
	err  error
}

func newPageCache(maxBytes int64, pageSize uint32) *pageCache {
	c := &pageCache{maxBytes: maxBytes, inflight: make(map[pageKey]*flight)}
	c.lru, _ = lru.New[pageKey, []byte](entriesFor(maxBytes, pageSize))
	return c
}

func entriesFor(maxBytes int64, pageSize uint32) int {
	return int(max(maxBytes/int64(max(pageSize, 512)), 16))
}

// resize adapts the entry count when the page size becomes known or changes.
func (c *pageCache) resize(pageSize uint32) {
	c.lru.Resize(entriesFor(c.maxBytes, pageSize))
}

func (c *pageCache) get(k pageKey) ([]byte, bool) {
	p, ok := c.lru.Get(k)
	if ok {
		c.hits.Add(1)
	}
	return p, ok
}

func (c *pageCache) contains(k pageKey) bool { return c.lru.Contains(k) }

// peek returns a cached page without counting a hit or refreshing it (the
// hydrator copying pages to its file).
func (c *pageCache) peek(k pageKey) ([]byte, bool) { return c.lru.Peek(k) }

// add caches a page obtained without a claim (warming).
func (c *pageCache) add(k pageKey, page []byte) { c.lru.Add(k, page) }

func (c *pageCache) remove(k pageKey) { c.lru.Remove(k) }

// claim registers a fetch of k by the caller. It returns (nil, true) when
// the caller must fetch k and later call finish, or the existing flight to
// wait on.
func (c *pageCache) claim(k pageKey) (*flight, bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f, ok := c.inflight[k]; ok {
		return f, false
	}
	c.inflight[k] = &flight{done: make(chan struct{})}
	return nil, true
}

// finish publishes the result of a claimed fetch.
func (c *pageCache) finish(k pageKey, page []byte, err error) {
	if err == nil {
		c.lru.Add(k, page)
	}
	c.mu.Lock()
	f := c.inflight[k]
	delete(c.inflight, k)
	c.mu.Unlock()
	if f != nil {
		f.page, f.err = page, err
		close(f.done)
	}
}

// stats returns hits, misses and bytes held.
func (c *pageCache) stats() (hits, misses int64, entries int) {
	return c.hits.Load(), c.misses.Load(), c.lru.Len()
}
