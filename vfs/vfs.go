// Package vfs is the strata SQLite VFS: the SQLite surface over the engine
// package, which keeps each replica's state (views, page cache, fetching,
// the poller).
//
// What lives here: registration and opening (vfs.go), a connection's main
// database file with its locks and reads (file.go), the strata_* pragmas
// (pragma.go, with pragma_c.go carrying their error messages to SQLite),
// URI parameters (params.go, uri.go), local side files (local.go), and the
// guard that keeps a Go panic from crossing into the host (guard.go).
package vfs

import (
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"runtime/cgo"
	"strings"
	"sync"
	"time"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/engine"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
)

// Name is the name the VFS is registered under.
const Name = "strata"

// VFS implements sqlite3vfs.VFS. It keeps one engine.Database per replica,
// shared by every connection that opens it (the registry).
//
// mu guards the last errors and writing; it is a leaf lock, never held
// across I/O.
type VFS struct {
	cfg      Config
	registry engine.Registry

	mu          sync.Mutex
	lastOpenErr error
	lastErr     error
	// writing maps the name of a main database file to the connection
	// writing it, so that the journal SQLite opens by that name is known
	// to belong to its transaction (see local.go).
	writing map[string]*file

	journals journalPool // scratch files of replicas' journals (local.go)
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
		v := &VFS{cfg: cfg.withDefaults()}
		v.registry.ManageMemory = v.cfg.ManageMemory
		if registerErr = sqlite3vfs.RegisterVFS(Name, guardedVFS{v}); registerErr != nil {
			return
		}
		if registerErr = wrapVFS(Name, v.cfg.Default); registerErr == nil {
			registered = v
		}
	})
	return registered, registerErr
}

// OpenURI implements sqlite3vfs.URIOpener.
func (v *VFS) OpenURI(name string, params map[string]string, flags sqlite3vfs.OpenFlag) (sqlite3vfs.File, sqlite3vfs.OpenFlag, error) {
	if flags&sqlite3vfs.OpenMainDB == 0 {
		return v.openLocal(name, flags)
	}
	f, err := v.openMain(name, params)
	if err != nil {
		v.cfg.Logger.Error("open failed", "name", name, "err", err)
		v.setOpenError(err)
		return nil, 0, sqlite3vfs.CantOpenError
	}
	f.handle = cgo.NewHandle(f)
	setOpening(f.handle)
	if params["mode"] == "ro" {
		return f, sqlite3vfs.OpenReadOnly | sqlite3vfs.OpenMainDB, nil
	}
	// Read-write even without write=1, so that a write reaches the VFS
	// and fails with a message saying how to enable writes.
	return f, sqlite3vfs.OpenReadWrite | sqlite3vfs.OpenMainDB, nil
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
	ctx, cancel := context.WithTimeout(context.Background(), openTimeout+p.wait)
	defer cancel()
	opts := engine.Options{
		PollInterval: v.cfg.PollInterval,
		CacheSize:    v.cfg.CacheSize,
		Logger:       v.cfg.Logger,
		Wait:         p.wait,
		Target:       p.target,
		Create:       p.write,
		Hydrate:      p.hydrate, // the first connection's starts with the open
	}
	if p.pollInterval > 0 { // URI parameters of the first connection win
		opts.PollInterval = p.pollInterval
	}
	if p.cacheSize > 0 {
		opts.CacheSize = p.cacheSize
	}
	db, err := v.registry.Acquire(ctx, p.key, func(ctx context.Context, resized func()) (*engine.Database, error) {
		opts.Resized = resized
		return engine.Open(ctx, p.replica, opts)
	})
	if errors.Is(err, replica.ErrEmpty) && p.wait == 0 {
		err = fmt.Errorf("%w (add wait=DURATION to the URI to wait for a first file)", err)
	}
	if err != nil {
		return nil, err
	}
	f := &file{db: db, key: p.key, vfs: v, name: name, writable: p.write}
	f.reader = db.NewReader(f.interrupted)
	if p.write {
		if _, err := db.EnableWrites(engine.WriteOptions{Dir: p.buffer, Sync: p.sync, Compaction: p.compaction}); err != nil {
			f.Close()
			return nil, err
		}
	}
	if p.hydrate != "" {
		if err := db.Hydrate(p.hydrate); err != nil {
			f.Close()
			return nil, err
		}
	}
	if !p.target.IsLatest() {
		if err := f.travel(p.target); err != nil {
			f.Close()
			return nil, err
		}
	} else if db.Latest().TXID() == 0 && db.PollError() != nil {
		// Opened for a past state by another connection, and the latest
		// state could not be built.
		err := db.PollError()
		f.Close()
		return nil, err
	}
	return f, nil
}

// openTimeout bounds opening a replica (listing, planning, indexing),
// besides any wait= for a first file.
const openTimeout = 2 * time.Minute

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
	db, ok := v.registry.Get(key)
	if !ok {
		return Stats{}, false
	}
	s := db.Stats()
	return Stats{TXID: s.TXID.String(), CacheHits: s.CacheHits, Misses: s.Misses, CacheEntries: s.CacheEntries, LastPollAgeSeconds: s.Lag.Seconds()}, true
}

// Database returns the engine state of the replica at url, if a connection
// has it open (for tests and tools that drive it directly, e.g. a poll now).
func (v *VFS) Database(url string) (*engine.Database, bool) {
	key, err := backends.Canonical(url)
	if err != nil {
		return nil, false
	}
	return v.registry.Get(key)
}

// setWriting records (or with nil, forgets) the connection writing the
// main database file name.
func (v *VFS) setWriting(name string, f *file) {
	v.mu.Lock()
	defer v.mu.Unlock()
	if f == nil {
		delete(v.writing, name)
		return
	}
	if v.writing == nil {
		v.writing = make(map[string]*file)
	}
	v.writing[name] = f
}

// writer is the connection writing the main database file name, if any.
func (v *VFS) writer(name string) *file {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.writing[name]
}

// setOpenError remembers why the last open failed: SQLite reports only
// "unable to open database file", so callers ask LastOpenError for the
// reason.
func (v *VFS) setOpenError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastOpenErr, v.lastErr = err, err
}

// setError remembers the most recent failure of any connection.
func (v *VFS) setError(err error) {
	v.mu.Lock()
	defer v.mu.Unlock()
	v.lastErr = err
}

// LastOpenError is the reason the most recent failed open in the process
// failed. A connection's own failures are in PRAGMA strata_last_error.
func (v *VFS) LastOpenError() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastOpenErr
}

// LastError is the reason the most recent failed open or read of any
// connection in the process failed. Prefer the connection's own
// PRAGMA strata_last_error where a pool shares the process.
func (v *VFS) LastError() error {
	v.mu.Lock()
	defer v.mu.Unlock()
	return v.lastErr
}
