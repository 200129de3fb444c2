// Package engine is one replica's state in a process, without SQLite: the
// views (immutable page indexes, one per state), where each page's bytes
// come from (source.go), the page cache (cache.go), fetching with
// read-ahead (fetch.go, readahead.go, siblings.go), the poller that
// follows new commits (follow.go), the hydrated local file (hydrate.go)
// and the write path (writer.go). The vfs package puts SQLite's file
// interface on top of it; tools and tests can use it directly.
//
// Lock order, outermost first: Registry.mu, Database.mu, pageCache.mu.
// None of them is held across I/O. hydration.mu and hydration.pmu are
// leaves; readers hold hydration.mu shared across the local read of one
// page of the hydrated file.
package engine

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"sync/atomic"
	"time"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/strata-db/strata/internal/safe"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/backends"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// Options configure one replica's state.
type Options struct {
	// PollInterval is how often new LTX files are looked for (default 1s).
	PollInterval time.Duration
	// CacheSize bounds the page cache in bytes (default 64 MiB).
	CacheSize int64
	// Logger receives the replica's logs; nil discards them.
	Logger *slog.Logger
	// Wait is how long Open waits for an empty replica to get a first
	// file; 0 fails at once.
	Wait time.Duration
	// Target, when not latest, is the only state Open builds: the latest
	// state is then planned by the first poll, so a reachable past state
	// opens even when the latest is not.
	Target replica.Target
	// Create opens an empty replica as an empty database (the first
	// commit creates it), instead of failing.
	Create bool
	// Resized is called, without locks held, when the database size of
	// the replica changes (the registry recounts the memory limit).
	Resized func()
	// Hydrate, when not empty, is the path of the hydrated file (see
	// Database.Hydrate): a restore starts while Open indexes the replica.
	Hydrate string
}

// Defaults for Options fields left zero.
const (
	DefaultPollInterval = time.Second
	DefaultCacheSize    = 64 << 20
)

func (o Options) withDefaults() Options {
	if o.PollInterval <= 0 {
		o.PollInterval = DefaultPollInterval
	}
	if o.CacheSize <= 0 {
		o.CacheSize = DefaultCacheSize
	}
	if o.Logger == nil {
		o.Logger = slog.New(slog.DiscardHandler)
	}
	return o
}

// Database is the state one process keeps for one replica, shared by every
// connection that opens it: the replica, the page cache, the latest view
// and the poller that advances it.
//
// mu guards current, pollErr and writer. enableMu serializes
// EnableWrites, which recovers a write buffer (storage I/O, publishing
// views) before it sets writer; it is taken before mu. The poller
// goroutine owns the poll cursor (l1Next, atomic: a read that finds the
// latest state compacted away moves it on too); it is started by Open and
// stopped, and waited for, by Close.
type Database struct {
	rep   *replica.Replica
	cache *pageCache
	log   *slog.Logger
	opts  Options

	ctx    context.Context // cancelled by Close; bounds every fetch
	cancel context.CancelFunc

	enableMu sync.Mutex
	mu       sync.Mutex
	current  *View
	pollErr  error   // why the last poll failed; nil after a good one
	writer   *Writer // the write path, once writes are enabled

	lastPoll    atomic.Int64  // unix nanoseconds of the last successful poll
	readers     atomic.Int64  // transactions reading a pinned view
	pastCounter atomic.Uint32 // change counters of past views (high range)
	counter     atomic.Uint32 // the last change counter given to a latest view
	indexes     *lru.Cache[storage.FileKey, *source]
	bad         *replica.BadFiles // files found corrupt: left out of plans for a while
	past        *lru.Cache[ltx.TXID, *View]

	pollDone chan struct{}
	l1Next   atomic.Uint64 // where the next level-1 listing starts (a TXID)
	opened   chan struct{} // closed when Open has published the first latest view

	// hyd is the hydrated file, once Hydrate was called (hydrate.go);
	// hydMu serializes Hydrate calls (it is held across opening the file).
	hyd   atomic.Pointer[hydration]
	hydMu sync.Mutex
}

// pastViews bounds the views of past states kept for time travel: each
// costs about 24 bytes per page of the database.
const pastViews = 4

// pastCounterBase starts the change counters of past views, far from those
// of the latest views (which count up from 1 by one per new state), so a
// connection moving between the two always sees the counter change.
const pastCounterBase = 1 << 31

// Open plans the replica at url (the latest state, or only opts.Target),
// indexes it and starts the poller.
func Open(ctx context.Context, url string, opts Options) (*Database, error) {
	store, err := backends.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return OpenStore(ctx, store, opts)
}

// OpenStore is Open on a storage backend the caller made (a wrapper that
// counts or injects faults, say).
func OpenStore(ctx context.Context, store storage.Backend, opts Options) (*Database, error) {
	opts = opts.withDefaults()
	if opts.Logger.Enabled(ctx, slog.LevelDebug) {
		store = storage.WithLogging(store, opts.Logger) // each request, with its latency
	}
	db := &Database{rep: replica.New(store), opts: opts, log: opts.Logger.With("replica", store.String())}
	db.cache = newPageCache(opts.CacheSize, 4096) // resized once the page size is known
	db.indexes, _ = lru.New[storage.FileKey, *source](4096)
	db.past, _ = lru.New[ltx.TXID, *View](pastViews)
	db.bad = replica.NewBadFiles(0, 0)
	db.pastCounter.Store(pastCounterBase)
	db.ctx, db.cancel = context.WithCancel(context.Background())
	db.opened = make(chan struct{})
	if opts.Hydrate != "" {
		if err := db.openHydration(opts.Hydrate); err != nil {
			db.cancel()
			return nil, err
		}
	}
	v, err := db.openView(ctx)
	if err != nil {
		db.cancel()
		if h := db.hyd.Load(); h != nil {
			h.close()
		}
		store.Close()
		return nil, err
	}
	v.counter = db.nextCounter()
	db.current = v
	close(db.opened)
	if h := db.hyd.Load(); h != nil {
		h.start(nil) // unless the listing started it
	}
	db.cache.resize(v.pageSize) // only the latest view sizes the cache
	db.lastPoll.Store(time.Now().UnixNano())
	db.pollDone = make(chan struct{})
	go db.pollLoop()
	db.log.Info("opened", "txid", v.txid, "pages", v.commit, "page_size", v.pageSize)
	return db, nil
}

// openView builds the latest view. When the first connection asked for a
// past state (opts.Target), that state is built too and kept, and a latest
// state that cannot be built is not fatal: the database opens with an
// empty latest view (its error in PollError) that later polls fill.
func (db *Database) openView(ctx context.Context) (*View, error) {
	files, err := db.waitForFiles(ctx, db.opts.Wait)
	if errors.Is(err, replica.ErrEmpty) && db.opts.Create {
		return &View{}, nil
	}
	if err != nil {
		return nil, err
	}
	if h := db.hyd.Load(); h != nil && h.needsRestore() {
		h.start(files) // the restore downloads while the open indexes
	}
	latest, err := db.buildView(ctx, files, replica.Latest())
	if errors.Is(err, storage.ErrNotFound) {
		// A file was deleted (compacted) between listing and reading.
		db.log.Info("a planned file is gone; re-planning the open", "err", err)
		if files, err = db.rep.Files(ctx); err == nil {
			latest, err = db.buildView(ctx, files, replica.Latest())
		}
	}
	if db.opts.Target.IsLatest() {
		return latest, err
	}
	if err != nil {
		db.log.Warn("the latest state cannot be built; serving the requested past state", "target", db.opts.Target, "err", err)
		db.pollErr = fmt.Errorf("latest state: %w", err)
		latest = &View{}
	}
	past, err := db.buildView(ctx, files, db.opts.Target)
	if err != nil {
		return nil, err
	}
	db.rememberPast(past)
	return latest, nil
}

// waitForFiles lists the replica, polling until it has files or wait runs out.
func (db *Database) waitForFiles(ctx context.Context, wait time.Duration) ([]storage.FileInfo, error) {
	deadline := time.Now().Add(wait)
	for {
		files, err := db.rep.Files(ctx)
		if errors.Is(err, storage.ErrNoReplica) && (wait > 0 || db.opts.Create) {
			// Not there yet: the first writer creates it.
			files, err = nil, nil
		}
		if err != nil || len(files) > 0 {
			return files, err
		}
		if time.Now().After(deadline) {
			if wait > 0 {
				return nil, fmt.Errorf("%s: %w (waited %s)", db.rep, replica.ErrEmpty, wait)
			}
			return nil, fmt.Errorf("%s: %w", db.rep, replica.ErrEmpty)
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(min(db.opts.PollInterval, time.Until(deadline)+time.Millisecond)):
		}
	}
}

// buildView plans target from a listing and indexes every planned file. A
// file found corrupt is left out (for a while: db.bad) when another chain
// of files reaches the same state.
func (db *Database) buildView(ctx context.Context, files []storage.FileInfo, t replica.Target) (*View, error) {
	var v *View
	bad := db.bad
	if _, atTime := t.Time(); atTime {
		// Which state a moment means may rest on the commit time of a file
		// found corrupt before: it must be found again and named, not
		// silently left out of the decision.
		bad = nil
	}
	plan, err := db.rep.PlanAround(ctx, files, t, bad, func(p replica.Plan) error {
		srcs, data, err := db.indexAll(ctx, p.Files)
		if err != nil {
			return err
		}
		empty := &View{}
		if err := empty.checkFiles(srcs); err != nil {
			return err
		}
		if v, err = empty.apply(srcs); err != nil {
			return err
		}
		db.warm(v, srcs, data)
		return nil
	})
	if err != nil {
		return nil, err
	}
	for _, w := range plan.Warnings { // e.g. commit times that go back, files left out
		db.log.Warn("planning "+t.String(), "warning", w)
	}
	return v, nil
}

// indexAll fetches the headers and page indexes of files concurrently,
// reusing those already fetched. Small files come whole in that one
// request; data[i] holds such a file so its pages need no second fetch.
func (db *Database) indexAll(ctx context.Context, files []storage.FileInfo) (srcs []*source, data [][]byte, err error) {
	srcs = make([]*source, len(files))
	data = make([][]byte, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(64)
	for i, f := range files {
		if s, ok := db.indexes.Get(f.Key()); ok {
			srcs[i] = s
			continue
		}
		g.Go(func() error {
			return safe.Call("index", func() error {
				x, whole, err := db.rep.IndexAndData(gctx, f)
				if err != nil {
					return err
				}
				s := fileSource(x)
				s.whole = whole != nil
				db.indexes.Add(f.Key(), s)
				srcs[i], data[i] = s, whole
				return nil
			})
		})
	}
	return srcs, data, g.Wait()
}

// warm caches the pages of files read whole that are current in v, so the
// first reads of recent commits cost no request. The cache stays bounded:
// warming only adds to the LRU.
func (db *Database) warm(v *View, srcs []*source, data [][]byte) {
	for i, s := range srcs {
		if data[i] == nil {
			continue
		}
		x := s.file
		for _, fr := range x.Frames {
			k := pageKey{s.key(), fr.Pgno}
			if v.lookup(fr.Pgno).src != s || db.cache.contains(k) {
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

// Latest is the newest published view.
func (db *Database) Latest() *View {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.current
}

// At builds (or reuses) the view of a past state.
func (db *Database) At(ctx context.Context, t replica.Target) (*View, error) {
	if id, ok := t.TXID(); ok {
		if v, ok := db.past.Get(id); ok {
			return v, nil
		}
	}
	v, err := db.buildListed(ctx, t)
	if err != nil {
		return nil, err
	}
	db.rememberPast(v)
	return v, nil
}

// buildListed builds the view of t from a fresh listing. A planned file
// deleted between listing and reading (compaction at work) means the
// listing is stale: it lists again, a few times.
func (db *Database) buildListed(ctx context.Context, t replica.Target) (*View, error) {
	var err error
	for range 3 {
		var files []storage.FileInfo
		if files, err = db.rep.Files(ctx); err != nil {
			return nil, err
		}
		var v *View
		if v, err = db.buildView(ctx, files, t); !errors.Is(err, storage.ErrNotFound) {
			return v, err
		}
		db.log.Info("a planned file is gone (compacted?); listing again", "target", t, "err", err)
	}
	return nil, err
}

// nextCounter is the change counter of a new latest state: counting up
// by one, so that a writer's commit gets the counter SQLite itself wrote
// (it read the previous state's and added one), and never reused.
func (db *Database) nextCounter() uint32 { return db.counter.Add(1) }

// rememberPast gives a past view its own change counter and keeps it for
// reuse.
func (db *Database) rememberPast(v *View) {
	v.counter = db.pastCounter.Add(1)
	db.past.Add(v.txid, v)
}

// BeginRead counts a transaction that is about to pin a view; call it
// before taking the view, so that a publish in between already sees a
// reader and keeps the pages this one may need. EndRead undoes it.
func (db *Database) BeginRead() { db.readers.Add(1) }

// EndRead marks the end of a transaction counted by BeginRead.
func (db *Database) EndRead() { db.readers.Add(-1) }

// publish makes next the latest view, if prev still is (else it reports
// false: someone published first, and the caller's work is stale), and
// evicts the page versions the applied files replaced. Connections that
// pinned the old view keep reading it; a replaced page they still need is
// simply fetched again.
func (db *Database) publish(prev, next *View, applied []*source) bool {
	db.mu.Lock()
	if db.current != prev {
		db.mu.Unlock()
		return false
	}
	db.current = next
	db.mu.Unlock()
	evict := applied
	if db.readers.Load() > 0 {
		// A transaction still reads an older view, maybe one of files that
		// compaction will delete: its pages stay cached (the LRU ages them
		// out) rather than being fetched again, or not at all.
		evict = nil
	}
	for _, s := range evict {
		for _, fr := range s.file.Frames {
			if old := prev.lookup(fr.Pgno); old.src != nil && old.src != s && old.src.file != nil {
				db.cache.remove(pageKey{old.src.key(), fr.Pgno})
			}
		}
	}
	if next.pageSize != prev.pageSize {
		db.cache.resize(next.pageSize)
	}
	if next.commit != prev.commit && db.opts.Resized != nil {
		db.opts.Resized() // the page indexes' share of the memory limit moved
	}
	if h := db.hyd.Load(); h != nil {
		h.published(prev, next, applied) // the hydrated file follows
	}
	return true
}

// replan rebuilds v, whose files compaction has deleted, at the same TXID
// from a fresh listing. If v is still the latest view, the rebuilt one
// replaces it, so later reads stop paying for the missing file.
func (db *Database) replan(ctx context.Context, v *View) (*View, error) {
	// Always from the listing: a cached view at this TXID (another
	// connection's time travel) may name the same deleted files.
	fresh, err := db.buildListed(ctx, replica.AtTXID(v.txid))
	if err != nil {
		if latest := db.Latest(); sameState(latest, v) && errors.Is(err, replica.ErrUnreachable) {
			// The latest view's own state is gone: move the latest on to a
			// state the replica still holds, so that the next transactions
			// read it (this one cannot change its state under it).
			if rerr := db.refresh(ctx, latest); rerr != nil {
				db.log.Warn("could not move the latest view past a compacted state", "err", rerr)
			}
		}
		return nil, err
	}
	if db.Latest() == v {
		fresh.counter = v.counter // the same state, from other files
		db.publish(v, fresh, nil)
	} else {
		db.rememberPast(fresh)
	}
	return fresh, nil
}

// Lag is the time since the last successful poll, or -1 if none.
func (db *Database) Lag() time.Duration {
	n := db.lastPoll.Load()
	if n == 0 {
		return -1
	}
	return time.Since(time.Unix(0, n))
}

// PollError is why the last poll failed, nil after a successful one.
func (db *Database) PollError() error {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.pollErr
}

// Replica is the replica the database reads.
func (db *Database) Replica() *replica.Replica { return db.rep }

// Logger is the replica's logger.
func (db *Database) Logger() *slog.Logger { return db.log }

// Context is cancelled when the database closes.
func (db *Database) Context() context.Context { return db.ctx }

// Stats describes the state of the replica in this process.
type Stats struct {
	TXID              ltx.TXID
	CacheHits, Misses int64
	CacheEntries      int
	Lag               time.Duration // -1 if never polled
}

// Stats returns the database's counters.
func (db *Database) Stats() Stats {
	h, m, n := db.cache.stats()
	return Stats{TXID: db.Latest().txid, CacheHits: h, Misses: m, CacheEntries: n, Lag: db.Lag()}
}

// Writer is the write path, nil unless EnableWrites was called.
func (db *Database) Writer() *Writer {
	db.mu.Lock()
	defer db.mu.Unlock()
	return db.writer
}

// Close stops the poller and the hydrator and waits for them, closes the
// write path, and releases the storage backend.
func (db *Database) Close() error {
	db.cancel()
	<-db.pollDone
	if h := db.hyd.Load(); h != nil {
		h.close()
	}
	var err error
	if w := db.Writer(); w != nil {
		err = w.close()
	}
	return errors.Join(err, db.rep.Store.Close())
}
