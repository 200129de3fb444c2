// Package vfs is the strata SQLite VFS: it serves a replica's pages to
// SQLite from a page cache filled by range reads, follows new commits with
// a poller, and lets each connection look at a past state.
//
// Read path: file.go (a connection's main database file) → fetch.go (cache,
// single-flight, read-ahead, B-tree sibling prefetch from siblings.go) →
// replica.Replica (range reads). Shared state per replica: database.go.
// Following new commits: poller.go. Immutable page indexes: view.go.
// Per-connection pragmas: pragma.go, with pragma_c.go carrying their error
// messages to SQLite. Memory: cache.go, memlimit.go.
package vfs

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"time"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/storage/backends"
)

// Name is the name the VFS is registered under.
const Name = "strata"

// VFS implements sqlite3vfs.VFS. It keeps one database per replica URL,
// shared by every connection that opens it.
//
// mu guards dbs and the last errors. It is never held across I/O: a replica
// being opened has an entry whose ready channel later connections to the
// same replica wait on, so one replica is never built twice and a slow
// open blocks nobody else.
type VFS struct {
	cfg Config

	mu          sync.Mutex
	dbs         map[string]*entry
	lastOpenErr error
	lastErr     error
}

// entry is one replica's slot in the VFS: db is set, or err, when ready is
// closed.
type entry struct {
	ready chan struct{}
	db    *database
	err   error
}

// registered is the process's VFS: SQLite keeps VFSes by name for the life
// of the process, so registration happens once.
var (
	registerOnce sync.Once
	registered   *VFS
	registerErr  error
)

// Register registers the strata VFS with SQLite (once per process; later
// calls return the first VFS and ignore cfg).
func Register(cfg Config) (*VFS, error) {
	registerOnce.Do(func() {
		v := &VFS{cfg: cfg.withDefaults(), dbs: make(map[string]*entry)}
		if registerErr = sqlite3vfs.RegisterVFS(Name, v); registerErr != nil {
			return
		}
		if registerErr = wrapPragmaErrors(Name, v.cfg.Default); registerErr == nil {
			registered = v
		}
	})
	return registered, registerErr
}

// OpenURI implements sqlite3vfs.URIOpener.
func (v *VFS) OpenURI(name string, params map[string]string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	if flags&sqlite3vfs.OpenMainDB == 0 {
		return openLocal(name, flags)
	}
	f, err := v.openMain(name, params)
	if err != nil {
		v.cfg.Logger.Error("open failed", "name", name, "err", err)
		v.setOpenError(err)
		return nil, 0, sqlite3vfs.CantOpenError
	}
	return f, sqlite3vfs.OpenReadOnly | sqlite3vfs.OpenMainDB, nil
}

// Open implements sqlite3vfs.VFS for callers without URI parameters.
func (v *VFS) Open(name string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	return v.OpenURI(name, nil, flags)
}

func (v *VFS) openMain(name string, params map[string]string) (*file, error) {
	p, err := parseParams(params, v.cfg)
	if err != nil {
		return nil, err
	}
	db, err := v.acquire(p)
	if err != nil {
		return nil, err
	}
	f := &file{db: db, vfs: v, name: name}
	if !p.target.IsLatest() {
		if err := f.travel(p.target); err != nil {
			f.Close()
			return nil, err
		}
	}
	return f, nil
}

// acquire returns the shared database of a replica, opening it first if
// no connection has it open.
func (v *VFS) acquire(p params) (*database, error) {
	v.mu.Lock()
	for {
		e, ok := v.dbs[p.key]
		if !ok {
			break
		}
		if e.db != nil {
			e.db.acquire()
			v.mu.Unlock()
			return e.db, nil
		}
		v.mu.Unlock()
		<-e.ready
		if e.err != nil {
			return nil, e.err
		}
		v.mu.Lock()
	}
	e := &entry{ready: make(chan struct{})}
	v.dbs[p.key] = e
	v.mu.Unlock()

	db, err := v.open(p)
	v.mu.Lock()
	if err != nil {
		delete(v.dbs, p.key)
		e.err = err
	} else {
		db.acquire()
		e.db = db
		v.adjustMemoryLimit()
	}
	v.mu.Unlock()
	close(e.ready)
	return db, err
}

// open builds a replica's shared state; URI parameters of the first
// connection set its poll interval and cache size.
func (v *VFS) open(p params) (*database, error) {
	cfg := v.cfg
	if p.pollInterval > 0 {
		cfg.PollInterval = p.pollInterval
	}
	if p.cacheSize > 0 {
		cfg.CacheSize = p.cacheSize
	}
	cfg.resized = func() {
		v.mu.Lock()
		defer v.mu.Unlock()
		v.adjustMemoryLimit()
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute+p.wait)
	defer cancel()
	return openDatabase(ctx, p.key, p.replica, cfg, p.wait)
}

// releaseDB drops a connection's reference; the last one closes the
// replica's state and stops its poller.
func (v *VFS) releaseDB(db *database) {
	v.mu.Lock()
	last := db.release()
	if last {
		if e, ok := v.dbs[db.url]; ok && e.db == db {
			delete(v.dbs, db.url)
		}
		v.adjustMemoryLimit()
	}
	v.mu.Unlock()
	if last {
		db.close()
	}
}

// Delete implements sqlite3vfs.VFS for the local side files. Journal and
// WAL names of a replica are never this VFS's files (see Access), so a
// local file that happens to carry one is left alone.
func (v *VFS) Delete(name string, dirSync bool) error {
	if isReplicaSideName(name) {
		return nil
	}
	if err := os.Remove(name); err != nil && !errors.Is(err, os.ErrNotExist) {
		return sqlite3vfs.IOError
	}
	return nil
}

// Access implements sqlite3vfs.VFS. A replica has no journal and no WAL:
// whatever local file happens to carry such a name beside the label must
// not make SQLite attempt a rollback or WAL recovery. Other side files
// (temp databases and their journals) are local.
func (v *VFS) Access(name string, flags sqlite3vfs.AccessFlag) (bool, error) {
	if isReplicaSideName(name) {
		return false, nil
	}
	_, err := os.Stat(name)
	return err == nil, nil
}

// isReplicaSideName reports whether name is a journal, WAL or shared-memory
// file name, which a read-only replica never has.
func isReplicaSideName(name string) bool {
	for _, suffix := range []string{"-journal", "-wal", "-shm"} {
		if strings.HasSuffix(name, suffix) {
			return true
		}
	}
	return false
}

// FullPathname implements sqlite3vfs.VFS. Names of replica databases are
// labels; making them absolute keeps journal names unique per directory.
func (v *VFS) FullPathname(name string) string {
	if abs, err := filepath.Abs(name); err == nil {
		return abs
	}
	return name
}

// Stats describes one open replica, for tests, benchmarks and `strata`.
type Stats struct {
	TXID               string
	CacheHits, Misses  int64
	CacheEntries       int
	LastPollAgeSeconds float64
}

// Stats returns the state of the replica at url, if a connection has it open.
func (v *VFS) Stats(url string) (Stats, bool) {
	key, err := backends.Canonical(url)
	if err != nil {
		return Stats{}, false
	}
	v.mu.Lock()
	e, ok := v.dbs[key]
	var db *database
	if ok {
		db = e.db
	}
	v.mu.Unlock()
	if db == nil {
		return Stats{}, false
	}
	h, m, n := db.cache.stats()
	return Stats{TXID: db.latest().txid.String(), CacheHits: h, Misses: m, CacheEntries: n, LastPollAgeSeconds: db.lag().Seconds()}, true
}

// setOpenError remembers why the last open failed: SQLite reports only
// "unable to open database file", so callers ask LastOpenError for the
// reason.
func (v *VFS) setOpenError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastOpenErr, v.lastErr = err, err
}

// setError remembers why a read failed: SQLite reports only "disk I/O
// error".
func (v *VFS) setError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastErr = err
}

// LastOpenError is the reason the most recent failed open failed.
func (v *VFS) LastOpenError() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastOpenErr
}

// LastError is the reason the most recent failed open or read failed.
func (v *VFS) LastError() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastErr
}
