package vfs

import (
	"context"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/backends"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// database is the state one process keeps for one replica, shared by every
// connection that opens it: the replica, the page cache, the latest view
// and the poller that advances it.
//
// mu guards current, refs and bad. The poller goroutine owns the poll cursor
// fields; it is started by openDatabase and stopped (and waited for) by
// close when the last connection goes away.
type database struct {
	url   string // canonical replica URL: the key of this state in the VFS
	rep   *replica.Replica
	cache *pageCache
	log   *slog.Logger
	cfg   Config

	ctx    context.Context // cancelled by close; bounds every fetch
	cancel context.CancelFunc

	mu      sync.Mutex
	current *view
	refs    int
	bad     map[storage.FileKey]bool // files found corrupt, left out of plans

	lastPoll atomic.Int64 // unix nanoseconds of the last successful poll
	readers  atomic.Int64 // connections inside a read transaction (holding a pinned view)
	indexes  *lru.Cache[storage.FileKey, *replica.FileIndex]
	past     *lru.Cache[ltx.TXID, *view]

	pollDone chan struct{}
	// Owned by the poller goroutine (and tests' PollNow, run without it):
	l1Next ltx.TXID // where the next level-1 file starts
}

// pastViews bounds the views of past states kept for time travel: each
// costs about 24 bytes per page of the database.
const pastViews = 4

// openDatabase plans the latest state of url, indexes it and starts the
// poller. wait > 0 waits that long for an empty replica to get a file.
func openDatabase(ctx context.Context, key, url string, cfg Config, wait time.Duration) (*database, error) {
	store, err := backends.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	db := &database{url: key, rep: replica.New(store), cfg: cfg, log: cfg.Logger.With("replica", store.String())}
	db.cache = newPageCache(cfg.CacheSize, 4096) // resized once the page size is known
	db.indexes, _ = lru.New[storage.FileKey, *replica.FileIndex](4096)
	db.past, _ = lru.New[ltx.TXID, *view](pastViews)
	db.bad = make(map[storage.FileKey]bool)
	files, err := db.waitForFiles(ctx, wait)
	if err != nil {
		return nil, err
	}
	v, err := db.buildView(ctx, files, replica.Latest())
	if err != nil {
		return nil, err
	}
	db.current = v
	db.cache.resize(v.pageSize) // only the latest view sizes the cache
	db.l1Next = nextL1(files, v.txid)
	db.lastPoll.Store(time.Now().UnixNano())
	db.ctx, db.cancel = context.WithCancel(context.Background())
	db.pollDone = make(chan struct{})
	go db.pollLoop()
	return db, nil
}

// waitForFiles lists the replica, polling until it has files or wait runs out.
func (db *database) waitForFiles(ctx context.Context, wait time.Duration) ([]storage.FileInfo, error) {
	deadline := time.Now().Add(wait)
	for {
		files, err := db.rep.Files(ctx)
		if err != nil || len(files) > 0 {
			return files, err
		}
		if time.Now().After(deadline) {
			if wait > 0 {
				return nil, fmt.Errorf("%s: %w (waited %s)", db.rep, replica.ErrEmpty, wait)
			}
			return nil, fmt.Errorf("%s: %w (add wait=DURATION to the URI to wait for a first file)", db.rep, replica.ErrEmpty)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(db.cfg.PollInterval, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// buildView plans target from a listing and indexes every planned file.
func (db *database) buildView(ctx context.Context, files []storage.FileInfo, t replica.Target) (*view, error) {
	plan, err := db.rep.PlanFiles(ctx, files, t)
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings { // e.g. commit times that go back
		db.log.Warn("planning "+t.String(), "warning", w)
	}
	idx, data, err := db.indexAll(ctx, plan.Files)
	if err != nil {
		return nil, err
	}
	v, err := (&view{}).apply(idx)
	if err != nil {
		return nil, err
	}
	db.warm(v, idx, data)
	return v, nil
}

// indexAll fetches the headers and page indexes of files concurrently,
// reusing those already fetched. Small files come whole in that one
// request; data[i] holds such a file so its pages need no second fetch.
func (db *database) indexAll(ctx context.Context, files []storage.FileInfo) (idx []*replica.FileIndex, data [][]byte, err error) {
	idx = make([]*replica.FileIndex, len(files))
	data = make([][]byte, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, f := range files {
		if x, ok := db.indexes.Get(f.Key()); ok {
			idx[i] = x
			continue
		}
		g.Go(func() error {
			x, whole, err := db.rep.IndexAndData(gctx, f)
			if err != nil {
				return err
			}
			db.indexes.Add(f.Key(), x)
			idx[i], data[i] = x, whole
			return nil
		})
	}
	return idx, data, g.Wait()
}

// warm caches the pages of files read whole that are current in v, so the
// first reads of recent commits cost no request. The cache stays bounded:
// warming only adds to the LRU.
func (db *database) warm(v *view, idx []*replica.FileIndex, data [][]byte) {
	for i, x := range idx {
		if data[i] == nil {
			continue
		}
		for _, fr := range x.Frames {
			k := pageKey{x.File.Key(), fr.Pgno}
			if v.lookup(fr.Pgno).file != x || db.cache.contains(k) {
				continue
			}
			page, err := replica.DecodeFrame(data[i][fr.Offset:fr.Offset+int64(fr.Size)], fr.Pgno, x.Header.PageSize)
			if err != nil {
				db.log.Warn("undecodable page; it will be fetched when read", "file", x.File, "pgno", fr.Pgno, "err", err)
				continue
			}
			db.cache.add(k, page)
		}
	}
}

// latest is the newest published view.
func (db *database) latest() *view {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.current
}

// viewAt builds (or reuses) the view of a past state.
func (db *database) viewAt(ctx context.Context, t replica.Target) (*view, error) {
	if id, ok := t.TXID(); ok {
		if v, ok := db.past.Get(id); ok {
			return v, nil
		}
	}
	files, err := db.rep.Files(ctx)
	if err != nil {
		return nil, err
	}
	v, err := db.buildView(ctx, db.usable(files), t)
	if err != nil {
		return nil, err
	}
	db.past.Add(v.txid, v)
	return v, nil
}

// publish makes next the latest view, if prev still is (else it reports
// false: someone published first, and the caller's work is stale), and
// evicts the page versions the applied files replaced. Connections that
// pinned the old view keep reading it; a replaced page they still need is
// simply fetched again.
func (db *database) publish(prev, next *view, applied []*replica.FileIndex) bool {
	db.mu.Lock()
	if db.current != prev {
		db.mu.Unlock()
		return false
	}
	db.current = next
	db.mu.Unlock()
	if db.readers.Load() > 0 {
		// A transaction still reads an older view, maybe one of files that
		// compaction will delete: its pages stay cached (the LRU ages them
		// out) rather than being fetched again, or not at all.
		applied = nil
	}
	for _, x := range applied {
		for _, fr := range x.Frames {
			if old := prev.lookup(fr.Pgno); old.file != nil && old.file != x {
				db.cache.remove(pageKey{old.file.File.Key(), fr.Pgno})
			}
		}
	}
	if next.pageSize != prev.pageSize {
		db.cache.resize(next.pageSize)
	}
	if next.commit != prev.commit && db.cfg.resized != nil {
		db.cfg.resized() // the page indexes' share of the memory limit moved
	}
	return true
}

// replan rebuilds v, whose files compaction has deleted, at the same TXID
// from a fresh listing. If v is still the latest view, the rebuilt one
// replaces it, so later reads stop paying for the missing file.
func (db *database) replan(ctx context.Context, v *view) (*view, error) {
	files, err := db.rep.Files(ctx)
	if err != nil {
		return nil, err
	}
	// Always from the listing: a cached view at this TXID (another
	// connection's time travel) may name the same deleted files.
	fresh, err := db.buildView(ctx, db.usable(files), replica.AtTXID(v.txid))
	if err != nil {
		return nil, err
	}
	db.past.Add(fresh.txid, fresh)
	db.publish(v, fresh, nil)
	return fresh, nil
}

// acquire and release count the connections using db.
func (db *database) acquire() { db.mu.Lock(); db.refs++; db.mu.Unlock() }

// release drops a reference and reports whether it was the last.
func (db *database) release() bool {
	db.mu.Lock()
	defer db.mu.Unlock()
	db.refs--
	return db.refs == 0
}

// close stops the poller and waits for it.
func (db *database) close() {
	db.cancel()
	<-db.pollDone
}
