package engine

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"math"
	"path/filepath"
	"sync"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Hydration: the whole database restored into a local file (package
// hydrate) in the background while reads are served remotely, then kept
// current with every new state, so that reads come from local disk.
//
// A read may use the file only when the file holds the version of the
// page the reader's view wants:
//   - the view's stored TXID is the file's (the file is that state), or
//   - the view locates the page where the file's view does (the same
//     frame of the same stored file): the page did not change between
//     the two states.
//
// The second rule keeps a transaction that pinned an older view reading
// unchanged pages from the file while the file advances; the pages that
// changed it reads from the page cache, where an update first copies
// their old versions when transactions are pinned (preserve), or, if the
// cache has let them go, from storage. A newer view not yet in the file
// reads its unchanged pages from the file and the new ones from the cache,
// where the poller and the writer put them. During an update the pages
// being rewritten are not read from the file.
//
// Time travel needs no rule of its own: a past view reads the pages that
// did not change since from the file, the others remotely.

// Hydration states, as PRAGMA strata_hydration reports them.
const (
	HydrationOff      = "off"      // not enabled
	HydrationRunning  = "running"  // restoring the whole database
	HydrationComplete = "complete" // the file holds a complete state (TXID)
	HydrationFailed   = "failed"   // stopped (Error); reads are remote
)

// Hydration is the progress of a database's hydrated file.
type Hydration struct {
	State string `json:"state"`
	// Percent of the restore done (100 once complete).
	Percent float64 `json:"percent"`
	// Bytes of the restore plan's LTX files applied, and their total.
	Bytes int64 `json:"bytes"`
	Total int64 `json:"total"`
	// TXID is the state the file holds (complete) or is being restored
	// to (running).
	TXID ltx.TXID `json:"txid"`
	// Downloaded counts the bytes this process fetched from storage for
	// the file: a resumed restore or a catch-up fetches only what is
	// missing.
	Downloaded int64 `json:"downloaded"`
	// Reads counts the page reads the file served.
	Reads int64  `json:"reads"`
	Path  string `json:"path,omitempty"`
	Error string `json:"error,omitempty"`
}

// JSON is the progress as one line of JSON (PRAGMA strata_hydration).
func (h Hydration) JSON() string {
	b, _ := json.Marshal(h)
	return string(b)
}

// hydration is a database's hydrated file and the goroutine that keeps it.
//
// The hydrator goroutine (run) owns file: it alone writes it and its
// sidecar; readers only read it (File.ReadAt), under mu. The goroutine is
// started by Open (Options.Hydrate) or Database.Hydrate, and stopped, and
// waited for, by Database.Close (close).
//
// mu guards what readers may take from the file: view, dirty and floor.
// Readers hold it shared across the pread of (part of) one page: local
// I/O, the one exception to "no lock across I/O". The hydrator holds it
// exclusively only to change those fields, so a page is never read while
// it is rewritten. It is a leaf lock.
//
// pmu guards prog and queue; a leaf lock, never held across I/O.
type hydration struct {
	db   *Database
	path string
	file *hydrate.File // nil when it could not be opened (prog says why)

	wake   chan struct{} // a new latest view was published
	cancel context.CancelFunc
	done   chan struct{} // closed when run returns

	mu    sync.RWMutex
	view  *View          // the stored state the file holds, for readers; nil: read nothing
	dirty map[uint32]int // during an update, the pages being rewritten
	floor uint32         // during an update, pages above it are being dropped or rewritten

	reads atomic.Int64

	pmu     sync.Mutex
	prog    Hydration
	failErr error        // why hydration stopped (prog.Error says it too)
	queue   []transition // published states not yet in the file, oldest first
}

// transition is one publish that moved the latest stored state from one
// TXID to another by applying srcs (nil when not known: a re-plan). It
// keeps no view: a lagging hydrator must not keep old views alive.
type transition struct {
	from, to ltx.TXID
	srcs     []*source
}

// maxQueue bounds the transitions kept for a hydrator that lags (a long
// restore): older ones are dropped, and the catch-up lists storage instead.
const maxQueue = 1024

// Hydrate keeps a copy of the whole database in the local file at path:
// restored in the background, used by reads once complete, kept current,
// resumed or caught up after a restart. The first call starts it; later
// calls must name the same path. A path that belongs to another replica,
// a file that is not strata's, or a path that cannot be created is an
// error; a file another process holds is not: hydration is then off for
// this process (its progress says why) and reads stay remote.
//
// Options.Hydrate asks for the same at Open, which then starts a restore
// the file needs as soon as it has listed the replica, while it indexes
// the plan.
func (db *Database) Hydrate(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("hydrated file %s: %w", path, err)
	}
	db.hydMu.Lock()
	defer db.hydMu.Unlock()
	if h := db.hyd.Load(); h != nil {
		if h.path != abs {
			return fmt.Errorf("%s is already hydrated to %s in this process, not %s", db.rep, h.path, abs)
		}
		return nil
	}
	h, err := db.newHydration(abs)
	if err != nil {
		return err
	}
	db.hyd.Store(h)
	h.start(nil)
	return nil
}

// newHydration opens the hydrated file at path (absolute) for db, without
// starting the hydrator. A file another process holds gives a hydration
// that failed from the start (reads stay remote), not an error.
func (db *Database) newHydration(path string) (*hydration, error) {
	f, err := hydrate.Open(path, db.rep.String())
	h := &hydration{db: db, path: path, file: f, wake: make(chan struct{}, 1), done: make(chan struct{}), floor: math.MaxUint32}
	h.prog = Hydration{State: HydrationRunning, Path: path}
	switch {
	case errors.Is(err, hydrate.ErrLocked):
		db.log.Warn("hydrated file in use elsewhere; reads stay remote", "path", path, "err", err)
		h.prog.State, h.prog.Error, h.failErr = HydrationFailed, err.Error(), err
		close(h.done)
		return h, nil
	case err != nil:
		return nil, err
	}
	if s := f.State(); s.Phase == hydrate.Complete {
		h.prog.State, h.prog.TXID, h.prog.Percent = HydrationComplete, s.TXID, 100
	}
	return h, nil
}

// start runs the hydrator, once. files, when not nil, is the open's
// listing of the replica: a restore the file needs starts from it at once.
func (h *hydration) start(files []storage.FileInfo) {
	if h.file == nil || h.cancel != nil {
		return // failed from the start, or started
	}
	ctx, cancel := context.WithCancel(h.db.ctx)
	h.cancel = cancel
	st := h.file.State()
	h.db.log.Info("hydrating", "path", h.path, "state", st.Phase, "txid", st.TXID)
	go h.run(ctx, files)
}

// needsRestore reports whether the file holds no state to catch up from.
func (h *hydration) needsRestore() bool {
	if h.file == nil {
		return false
	}
	p := h.file.State().Phase
	return p != hydrate.Complete && p != hydrate.Updating
}

// Hydration reports the progress of the hydrated file.
func (db *Database) Hydration() Hydration {
	h := db.hyd.Load()
	if h == nil {
		return Hydration{State: HydrationOff}
	}
	h.pmu.Lock()
	p := h.prog
	h.pmu.Unlock()
	p.Reads = h.reads.Load()
	return p
}

// WaitHydrated waits until the hydrated file holds the latest stored state
// and serves reads, or fails; for tests and tools.
func (db *Database) WaitHydrated(ctx context.Context) error {
	h := db.hyd.Load()
	if h == nil {
		return errors.New("hydration is off")
	}
	t := time.NewTicker(5 * time.Millisecond)
	defer t.Stop()
	for {
		h.pmu.Lock()
		err := h.failErr
		h.pmu.Unlock()
		if err != nil {
			return fmt.Errorf("hydration of %s failed: %w", db.rep, err)
		}
		h.mu.RLock()
		v := h.view
		h.mu.RUnlock()
		if v != nil && v.txid == storedView(db.Latest()).txid {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for the hydrated file: %w (%s)", ctx.Err(), db.Hydration().JSON())
		case <-t.C:
		}
	}
}

// read returns page pgno of view v, located at loc, from the file if the
// file holds that version of it (see the rules above).
func (h *hydration) read(v *View, pgno uint32, loc pageLoc) ([]byte, bool) {
	h.mu.RLock()
	defer h.mu.RUnlock()
	if !h.holds(v, pgno, loc) {
		return nil, false
	}
	page := make([]byte, v.pageSize)
	return page, h.pread(page, pgno, 0)
}

// readInto reads bytes [off, off+len(dst)) of page pgno of view v, located
// at loc, from the file into dst if the file holds that version of it.
func (h *hydration) readInto(v *View, pgno uint32, loc pageLoc, dst []byte, off int) bool {
	h.mu.RLock()
	defer h.mu.RUnlock()
	return h.holds(v, pgno, loc) && h.pread(dst, pgno, off)
}

// holds reports whether the file holds the version of page pgno that view
// v locates at loc. Called with mu held.
func (h *hydration) holds(v *View, pgno uint32, loc pageLoc) bool {
	fv := h.view
	if fv == nil || pgno > h.floor || pgno > fv.commit || fv.pageSize != v.pageSize {
		return false
	}
	if _, ok := h.dirty[pgno]; ok {
		return false
	}
	return v.txid == fv.txid || sameVersion(fv.lookup(pgno), loc)
}

// pread reads part of page pgno from the file. A failure stops hydration
// (the hydrator stops at its next step): the read is served remotely.
// Called with mu held.
func (h *hydration) pread(dst []byte, pgno uint32, off int) bool {
	if err := h.file.ReadAt(dst, int64(pgno-1)*int64(h.view.pageSize)+int64(off)); err != nil {
		h.db.log.Error("read from the hydrated file failed; reading remotely", "page", pgno, "err", err)
		h.setFailed(err)
		h.poke()
		return false
	}
	h.reads.Add(1)
	return true
}

// sameVersion reports whether two locations hold the same version of a
// page: the same frame of the same stored file.
func sameVersion(a, b pageLoc) bool {
	if a.src == nil || b.src == nil || a.src.file == nil || b.src.file == nil || a.frame != b.frame {
		return false
	}
	return a.src == b.src || a.src.key() == b.src.key()
}

// published records a new latest view (called by Database.publish, with
// no lock held) and wakes the hydrator.
func (h *hydration) published(prev, next *View, applied []*source) {
	from, to := storedView(prev), storedView(next)
	if to.txid != from.txid && h.file != nil && !h.failed() {
		t := transition{from: from.txid, to: to.txid, srcs: applied}
		for _, s := range applied {
			if s.file == nil {
				t.srcs = nil
			}
		}
		h.pmu.Lock()
		h.queue = append(h.queue, t)
		if len(h.queue) > maxQueue {
			h.queue = append(h.queue[:0:0], h.queue[len(h.queue)-maxQueue:]...)
		}
		h.pmu.Unlock()
	}
	h.poke()
}

// poke wakes the hydrator.
func (h *hydration) poke() {
	select {
	case h.wake <- struct{}{}:
	default:
	}
}

// setFailed stops hydration for this process: reads stay remote.
func (h *hydration) setFailed(err error) {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	if h.prog.State != HydrationFailed {
		h.prog.State, h.prog.Error, h.failErr = HydrationFailed, err.Error(), err
	}
}

func (h *hydration) failed() bool {
	h.pmu.Lock()
	defer h.pmu.Unlock()
	return h.prog.State == HydrationFailed
}

// serve lets readers use the file, which holds v (nil: nothing usable).
func (h *hydration) serve(v *View) {
	h.mu.Lock()
	h.view, h.dirty, h.floor = v, nil, math.MaxUint32
	h.mu.Unlock()
}

// close stops the hydrator, waits for it, and closes the file.
func (h *hydration) close() {
	if h.cancel != nil {
		h.cancel()
		<-h.done
	}
	h.serve(nil)
	if h.file != nil {
		h.file.Close()
	}
}

// openHydration sets up the hydrated file Options.Hydrate asks for, before
// Open lists the replica.
func (db *Database) openHydration(path string) error {
	abs, err := filepath.Abs(path)
	if err != nil {
		return fmt.Errorf("hydrated file %s: %w", path, err)
	}
	h, err := db.newHydration(abs)
	if err != nil {
		return err
	}
	db.hyd.Store(h)
	return nil
}
