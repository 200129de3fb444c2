package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// The write path. One process writes a replica through one Writer, shared
// by every connection of the process (the Database owns it). A connection
// that takes SQLite's RESERVED lock begins a Txn; its pages go to an
// overlay on local disk; at commit (SQLite syncing the database file) the
// overlay becomes the next level-0 LTX file, created only if no file of
// that name exists: of two writers, in this process or any other, exactly
// one stores each TXID. The new state is then published as the latest
// view, so the process's other connections see it at their next
// transaction.
//
// Readers are never blocked by a writer: they keep reading the views they
// pinned. Hence a transaction that read an older view than the latest
// cannot write (ErrStale), as in SQLite's WAL mode.

// Errors of the write path, matched with errors.Is. The VFS answers SQLite
// with SQLITE_BUSY for ErrBusy, ErrStale and ErrConflict, SQLITE_READONLY
// for ErrReadOnly.
var (
	// ErrBusy: another connection of this process holds the write lock.
	ErrBusy = errors.New("another connection of this process is writing")
	// ErrStale: the transaction began on a state that is no longer the
	// latest; it must start over.
	ErrStale = errors.New("the transaction began on a state that is no longer the latest; retry it")
	// ErrConflict: another writer stored the TXID this commit needed.
	ErrConflict = errors.New("write conflict")
	// ErrReadOnly: this process cannot write the replica.
	ErrReadOnly = errors.New("replica is read-only")
)

// ConflictError says which TXID a commit wanted and what the replica held.
type ConflictError struct {
	URL    string
	Base   ltx.TXID // the state the transaction began on
	Remote ltx.TXID // the newest TXID known in the replica (0 if unknown)
	Err    error    // what revealed the conflict
}

func (e *ConflictError) Error() string {
	msg := fmt.Sprintf("%s: write conflict: this transaction began on TXID %s and would have stored TXID %s, but another writer stored it first",
		e.URL, e.Base, e.Base+1)
	if e.Remote > e.Base {
		msg += fmt.Sprintf(" (the replica is at TXID %s)", e.Remote)
	}
	msg += "; its changes were rolled back: retry the transaction"
	if e.Err != nil {
		msg += ": " + e.Err.Error()
	}
	return msg
}

func (e *ConflictError) Is(target error) bool { return target == ErrConflict }
func (e *ConflictError) Unwrap() error        { return e.Err }

// WriteOptions configure the writer of a replica.
type WriteOptions struct {
	// Dir is the directory of the local write buffer (created 0700).
	Dir string
	// Sync is 0 when a COMMIT returns only after its LTX file is stored.
	Sync time.Duration
}

// Writer is a replica's write path in this process.
//
// mu guards owner, txn, broken and confirmed; it is never held across
// I/O (a commit's upload runs while its connection owns the write lock,
// which other connections find taken and answer with ErrBusy). Lock
// order: Writer.mu before Database.mu.
type Writer struct {
	db   *Database
	opts WriteOptions
	node uint64 // NodeID in the headers this session writes

	mu        sync.Mutex
	owner     any // the connection holding the write lock, nil if none
	txn       *Txn
	ov        *overlay
	broken    error     // set: the replica is read-only for this process
	confirmed time.Time // when the replica was last known to end at our latest view
}

// freshFor is how long a writer trusts that the replica ends at its
// latest view without asking again. Past it, a commit first lists the
// replica: level-0 files are deleted a while after compaction (5 minutes
// by default), and only while they exist does exclusive creation of a
// TXID's key reveal that another writer stored it.
const freshFor = 10 * time.Second

// EnableWrites makes the database writable in this process. The first
// call creates the writer; later calls must ask for the same options.
func (db *Database) EnableWrites(opts WriteOptions) (*Writer, error) {
	db.mu.Lock()
	defer db.mu.Unlock()
	if w := db.writer; w != nil {
		if w.opts != opts {
			return nil, fmt.Errorf("%s is already open for writing in this process with sync=%s, buffer in %s", db.rep, syncName(w.opts.Sync), w.opts.Dir)
		}
		return w, nil
	}
	if _, ok := db.rep.Store.(storage.ExclusiveWriter); !ok {
		return nil, fmt.Errorf("%s: %w: its storage cannot create a file only if it does not exist, which writers need to never overwrite each other", db.rep, ErrReadOnly)
	}
	ov, err := newOverlay(opts.Dir)
	if err != nil {
		return nil, err
	}
	w := &Writer{db: db, opts: opts, node: rand.Uint64() | 1, ov: ov, confirmed: time.Now()}
	db.writer = w
	return w, nil
}

func syncName(d time.Duration) string {
	if d == 0 {
		return "commit"
	}
	return d.String()
}

// Begin starts the write transaction of owner (a connection), which pinned
// the view base when its read transaction began.
func (w *Writer) Begin(owner any, base *View) (*Txn, error) {
	w.mu.Lock()
	defer w.mu.Unlock()
	switch {
	case w.broken != nil:
		return nil, w.broken
	case w.owner != nil && w.owner != owner:
		return nil, ErrBusy
	case w.owner == owner:
		return w.txn, nil
	}
	if base != w.db.Latest() {
		return nil, ErrStale
	}
	w.owner = owner
	w.ov.reset()
	w.txn = &Txn{w: w, base: base, size: base.commit, pageSize: base.pageSize}
	return w.txn, nil
}

// Held reports whether any connection of the process holds the write lock.
func (w *Writer) Held() bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.owner != nil
}

// end releases the write lock of t.
func (w *Writer) end(t *Txn) {
	w.mu.Lock()
	defer w.mu.Unlock()
	if w.txn == t {
		w.owner, w.txn = nil, nil
		w.ov.reset()
	}
}

// confirm records that the replica was just seen to end at the latest view.
func (w *Writer) confirm() {
	w.mu.Lock()
	w.confirmed = time.Now()
	w.mu.Unlock()
}

func (w *Writer) lastConfirmed() time.Time {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.confirmed
}

// catchUp makes sure the latest view is the replica's newest state before
// a commit builds on base: when the last confirmation is too old, it polls
// now. It returns a conflict if the replica moved past base.
func (w *Writer) catchUp(ctx context.Context, base *View) error {
	if latest := w.db.Latest(); latest != base {
		return &ConflictError{URL: w.db.rep.String(), Base: base.txid, Remote: latest.txid}
	}
	if time.Since(w.lastConfirmed()) <= freshFor {
		return nil
	}
	// Every level: a file of another writer may already be compacted.
	files, err := w.db.rep.Files(ctx)
	if err != nil {
		return fmt.Errorf("check that %s did not move before committing: %w", w.db.rep, err)
	}
	var newest ltx.TXID
	for _, f := range files {
		newest = max(newest, f.MaxTXID)
	}
	if newest > base.txid {
		return &ConflictError{URL: w.db.rep.String(), Base: base.txid, Remote: newest}
	}
	w.confirm()
	return nil
}

// Close releases the writer's local files.
func (w *Writer) close() error { return w.ov.close() }
