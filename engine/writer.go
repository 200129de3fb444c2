package engine

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"sync"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/internal/safe"
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
	// Compaction, when set, runs a compactor with this configuration
	// beside the writer for as long as it writes (nil: none in this
	// process, e.g. another process compacts).
	Compaction *compact.Config
}

// same reports whether o asks for the writer w already is.
func (o WriteOptions) same(w WriteOptions) bool {
	return o.Dir == w.Dir && o.Sync == w.Sync && (o.Compaction == nil) == (w.Compaction == nil)
}

// Writer is a replica's write path in this process.
//
// Locks, in the order they are taken:
//   - flushMu serializes uploads of the write buffer (the flusher, a
//     forced sync, the final flush at close);
//   - bufMu guards buf: appends of local commits, marks, a fresh log;
//     held across the buffer's file I/O (an fsync), never across network
//     I/O;
//   - mu guards owner, txn, broken, confirmed, and the publishing of
//     views built from buf (so a local commit and a flush never publish
//     over each other); never held across I/O;
//   - then Database.mu.
//
// A commit's upload (sync=commit) runs while its connection owns the
// write lock, which other connections find taken (ErrBusy).
type Writer struct {
	db   *Database
	opts WriteOptions
	node uint64 // NodeID in the headers this session writes
	ov   *overlay

	flushMu sync.Mutex
	bufMu   sync.Mutex
	buf     *wbuffer // nil: another process holds this replica's buffer (sync=commit only)

	mu        sync.Mutex
	owner     any // the connection holding the write lock, nil if none
	txn       *Txn
	broken    error     // set: the replica is read-only for this process
	confirmed time.Time // when the replica was last known to end at our latest view

	stop        context.CancelFunc // stops the flusher
	flusherDone chan struct{}
	// stopCompactor stops the compactor that runs beside the writer
	// (WriteOptions.Compaction); compactorDone is closed when it has.
	stopCompactor context.CancelFunc
	compactorDone chan struct{}
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
	// Not db.mu: recovering the buffer reads and publishes views.
	db.enableMu.Lock()
	defer db.enableMu.Unlock()
	if w := db.Writer(); w != nil {
		if !w.opts.same(opts) {
			return nil, fmt.Errorf("%s is already open for writing in this process with sync=%s, buffer in %s", db.rep, syncName(w.opts.Sync), w.opts.Dir)
		}
		return w, nil
	}
	if _, ok := db.rep.Store.(storage.ExclusiveWriter); !ok {
		return nil, fmt.Errorf("%s: %w: its storage cannot create a file only if it does not exist, which writers need to never overwrite each other", db.rep, ErrReadOnly)
	}
	w := &Writer{db: db, opts: opts, node: rand.Uint64() | 1, confirmed: time.Now()}
	buf, err := openBuffer(opts.Dir, db.rep.String())
	switch {
	case errors.Is(err, ErrBufferInUse) && opts.Sync == 0:
		// Another process writes this replica from this machine with the
		// same buffer; commits stored at once need no buffer of their own.
		db.log.Info("the write buffer is another process's; commits of this one are stored before they return", "buffer", opts.Dir)
	case errors.Is(err, ErrBufferInUse):
		return nil, fmt.Errorf("%w: group commit (sync=%s) needs a buffer of its own: pass buffer=DIR", err, opts.Sync)
	case err != nil:
		return nil, err
	}
	w.buf = buf
	if w.ov, err = newOverlay(opts.Dir); err != nil {
		w.closeBuffer()
		return nil, err
	}
	if buf != nil {
		if err := w.recoverBuffer(db.ctx); err != nil {
			// Acknowledged commits that cannot be stored: the replica is
			// read-only for this process, and the buffer stays.
			w.broken = err
			db.log.Error("write buffer cannot be stored; the replica is read-only here", "err", err)
		}
	}
	if opts.Sync > 0 {
		ctx, cancel := context.WithCancel(context.Background())
		w.stop, w.flusherDone = cancel, make(chan struct{})
		go w.flushLoop(ctx)
	}
	if opts.Compaction != nil {
		cfg := *opts.Compaction
		if cfg.Logger == nil {
			cfg.Logger = db.log.With("compactor", true)
		}
		if err := cfg.Validate(); err != nil {
			w.close()
			return nil, fmt.Errorf("%s: compaction: %w", db.rep, err)
		}
		ctx, cancel := context.WithCancel(context.Background())
		w.stopCompactor, w.compactorDone = cancel, make(chan struct{})
		c := compact.New(db.rep, cfg)
		go func() {
			defer close(w.compactorDone)
			if err := safe.Call("compactor", func() error { return c.Run(ctx) }); err != nil && ctx.Err() == nil {
				db.log.Error("the compactor stopped", "err", err)
			}
		}()
	}
	db.mu.Lock()
	db.writer = w
	db.mu.Unlock()
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
	if !sameState(base, w.db.Latest()) {
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
	if latest := w.db.Latest(); !sameState(latest, base) {
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

// Broken is why the replica is read-only for this process, or nil.
func (w *Writer) Broken() error {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.broken
}

// close stores what the buffer holds (group commit), stops the flusher
// and releases the writer's local files.
func (w *Writer) close() error {
	if w.stopCompactor != nil {
		w.stopCompactor()
		<-w.compactorDone
	}
	var err error
	if w.stop != nil {
		w.stop()
		<-w.flusherDone
		ctx, cancel := context.WithTimeout(context.Background(), commitTimeout)
		_, err = w.Sync(ctx)
		cancel()
	}
	w.closeBuffer()
	if w.ov != nil {
		w.ov.close()
	}
	return err
}

func (w *Writer) closeBuffer() {
	w.bufMu.Lock()
	defer w.bufMu.Unlock()
	if w.buf != nil {
		w.buf.close()
	}
}

// commitTimeout bounds a commit or flush, retries included.
const commitTimeout = 2 * time.Minute
