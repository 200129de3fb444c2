// Package hydrate is the hydrated file: a whole replica restored into a
// local SQLite database file, with a small JSON sidecar beside it
// (PATH.strata) that says which replica the file belongs to and which
// state it holds. It knows nothing of views or SQLite callbacks; the
// engine decides what to write and when, and which reads the file serves.
//
// The guarantee: whenever the sidecar says "complete" at a TXID, the file
// is the database at that TXID, synced to disk, a valid SQLite database
// that plain sqlite3 can open read-only. Every change goes through a
// phase the sidecar records first:
//
//   - restoring: a restore from a plan (a list of LTX files) is under
//     way; the sidecar names the plan and how many of its files are in
//     the file, synced, so an interrupted restore resumes where it
//     stopped while the plan's files still exist;
//   - updating: the file is being brought from TXID to a later one. The
//     pages changed since TXID are being written; the others are TXID's.
//     After a crash the update is done again from TXID (writing a page
//     twice is harmless), or the file is restored anew;
//   - complete: written only after the file's pages and size are synced.
//
// One process owns a file at a time (an flock on it, held while open),
// and one replica: a sidecar naming another replica makes Open refuse the
// path rather than overwrite it.
package hydrate

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"syscall"

	"github.com/superfly/ltx"
)

// Errors of Open, matched with errors.Is.
var (
	// ErrLocked: another process (or another replica in this process)
	// has the file open.
	ErrLocked = errors.New("hydrated file is in use")
	// ErrOtherReplica: the sidecar names another replica.
	ErrOtherReplica = errors.New("hydrated file belongs to another replica")
	// ErrForeign: the path holds a file that is no hydrated file of
	// strata (no sidecar, or one that cannot be read); it is left alone.
	ErrForeign = errors.New("not a hydrated file of strata")
)

// FileError is a failure of the local file or its sidecar (as opposed to
// one of storage): an unwritable directory, a full disk, an I/O error.
type FileError struct {
	Path string
	Op   string
	Err  error
}

func (e *FileError) Error() string {
	msg := fmt.Sprintf("hydrated file: %s %s: %v", e.Op, e.Path, e.Err)
	if errors.Is(e.Err, syscall.ENOSPC) {
		msg += " (disk full)"
	}
	return msg
}

func (e *FileError) Unwrap() error { return e.Err }

// File is an open hydrated file. Its methods are called by one goroutine
// at a time (the engine's hydrator), except ReadPage, which any number of
// readers may call concurrently with each other and with writes to other
// pages.
type File struct {
	path    string
	replica string
	f       *os.File // read-write; holds the flock
	state   State    // the sidecar as last written or read
}

// Open opens (creating it if needed) the hydrated file at path for the
// replica named replica (its URL without secrets), locks it for this
// process, and reads its sidecar. A new file gets a sidecar at once, so
// that the path is known to be strata's from then on.
func Open(path, replica string) (*File, error) {
	abs, err := filepath.Abs(path)
	if err != nil {
		return nil, fmt.Errorf("hydrated file %s: %w", path, err)
	}
	path = abs
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		return nil, &FileError{Path: filepath.Dir(path), Op: "create directory", Err: err}
	}
	if err := checkOwner(path, replica); err != nil {
		return nil, err
	}
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE, 0o644)
	if err != nil {
		return nil, &FileError{Path: path, Op: "open", Err: err}
	}
	if err := syscall.Flock(int(f.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		f.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			msg := "another process has it open"
			if s, ok, _ := readSidecar(path); ok && s.PID != 0 {
				msg = fmt.Sprintf("process %d (the last to write its sidecar) or another one has it open", s.PID)
			}
			return nil, fmt.Errorf("%s: %s: %w", path, msg, ErrLocked)
		}
		return nil, &FileError{Path: path, Op: "lock", Err: err}
	}
	h := &File{path: path, replica: replica, f: f}
	// Read again under the lock: the previous owner may have changed it.
	s, ok, err := readSidecar(path)
	if err == nil && ok && s.Replica != replica {
		err = otherReplica(path, s.Replica, replica)
	}
	if err == nil && !ok {
		err = h.claim()
	}
	if err != nil {
		f.Close()
		return nil, err
	}
	if ok {
		h.state = s
		if err := h.checkHolds(); err != nil {
			f.Close()
			return nil, err
		}
	}
	return h, nil
}

// checkHolds makes sure a file whose sidecar claims a state still looks
// like it (someone may have removed or replaced the file and not the
// sidecar): the size the sidecar records, and SQLite's header. A file that
// does not is restored anew.
func (h *File) checkHolds() error {
	s := h.state
	if s.Phase != Complete && s.Phase != Updating {
		return nil
	}
	st, err := h.f.Stat()
	if err != nil {
		return &FileError{Path: h.path, Op: "stat", Err: err}
	}
	magic := make([]byte, 16)
	if st.Size() == int64(s.Pages)*int64(s.PageSize) && s.Pages > 0 {
		if _, err := h.f.ReadAt(magic, 0); err == nil && string(magic) == "SQLite format 3\x00" {
			return nil
		}
	}
	return h.claim() // nothing of the claimed state is left: start over
}

// checkOwner refuses a path whose sidecar names another replica, and a
// non-empty file without a sidecar: it is someone else's.
func checkOwner(path, replica string) error {
	s, ok, err := readSidecar(path)
	switch {
	case err != nil:
		return err
	case ok && s.Replica != replica:
		return otherReplica(path, s.Replica, replica)
	case ok:
		return nil
	}
	st, err := os.Stat(path)
	if err == nil && st.Size() > 0 {
		return fmt.Errorf("%s exists and has no sidecar %s: %w; choose another path (or remove it)", path, path+SidecarSuffix, ErrForeign)
	}
	if err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file: %w", path, ErrForeign)
	}
	return nil
}

func otherReplica(path, owner, replica string) error {
	return fmt.Errorf("%s holds replica %s, not %s: %w; give each replica its own path (hydrate=1 picks one per replica), or remove %s and %s",
		path, owner, replica, ErrOtherReplica, path, path+SidecarSuffix)
}

// claim marks a new (empty) file as this replica's, with nothing restored.
func (h *File) claim() error {
	if err := h.f.Truncate(0); err != nil {
		return &FileError{Path: h.path, Op: "truncate", Err: err}
	}
	return h.save(State{Replica: h.replica, Phase: Restoring})
}

// Path is the file's absolute path.
func (h *File) Path() string { return h.path }

// State is the sidecar as last written or read.
func (h *File) State() State { return h.state }

// save writes the sidecar and remembers it.
func (h *File) save(s State) error {
	s.Replica = h.replica
	if err := writeSidecar(h.path, s); err != nil {
		return err
	}
	h.state = s
	return nil
}

// ReadPage reads page pgno into buf (its length is the page size).
func (h *File) ReadPage(pgno uint32, buf []byte) error {
	return h.ReadAt(buf, int64(pgno-1)*int64(len(buf)))
}

// ReadAt reads len(buf) bytes of the file at off.
func (h *File) ReadAt(buf []byte, off int64) error {
	if _, err := h.f.ReadAt(buf, off); err != nil {
		return &FileError{Path: h.path, Op: fmt.Sprintf("read %d bytes at offset %d of", len(buf), off), Err: err}
	}
	return nil
}

// writePage writes one page at its place. Page 1 is written with bytes
// 18-19 set to 1 (rollback journal): a replica of a WAL-mode database
// would otherwise make a plain sqlite3 look for a WAL and shared memory
// beside a file that never has them.
func (h *File) writePage(pgno uint32, data []byte) error {
	if pgno == 1 && len(data) >= 100 && (data[18] != 1 || data[19] != 1) {
		data = append([]byte(nil), data...)
		data[18], data[19] = 1, 1
	}
	if _, err := h.f.WriteAt(data, int64(pgno-1)*int64(len(data))); err != nil {
		return &FileError{Path: h.path, Op: fmt.Sprintf("write page %d to", pgno), Err: err}
	}
	return nil
}

// resize sets the file to pages pages of pageSize bytes: pages above are
// dropped, and a file that grows reads zeros where nothing was written.
func (h *File) resize(pages, pageSize uint32) error {
	if err := h.f.Truncate(int64(pages) * int64(pageSize)); err != nil {
		return &FileError{Path: h.path, Op: "resize", Err: err}
	}
	return nil
}

func (h *File) sync() error {
	if err := h.f.Sync(); err != nil {
		return &FileError{Path: h.path, Op: "sync", Err: err}
	}
	return nil
}

// Close releases the file and its lock.
func (h *File) Close() error { return h.f.Close() }

// Update is one update of a complete file from its TXID to a later one:
// Begin, then WritePage and Truncate in any order for the pages that
// changed, then Commit. Until Commit, the sidecar says updating.
type Update struct {
	h        *File
	from     ltx.TXID
	target   ltx.TXID
	pageSize uint32
}

// BeginUpdate records in the sidecar that the file is being brought from
// the TXID it holds to target: from now until Commit, the file is not
// claimed to hold any state. The file must be complete, or an update
// from the same TXID that did not finish (done again).
func (h *File) BeginUpdate(target ltx.TXID, pageSize uint32) (*Update, error) {
	s := h.state
	if s.Phase != Complete && s.Phase != Updating {
		return nil, fmt.Errorf("%s: update to TXID %s of a file that holds no state (%s)", h.path, target, s.Phase)
	}
	if pageSize != s.PageSize {
		return nil, fmt.Errorf("%s: update to TXID %s with %d-byte pages, the file has %d-byte pages", h.path, target, pageSize, s.PageSize)
	}
	next := State{Phase: Updating, TXID: s.TXID, Target: target, PageSize: s.PageSize, Pages: s.Pages}
	if err := h.save(next); err != nil {
		return nil, err
	}
	return &Update{h: h, from: s.TXID, target: target, pageSize: pageSize}, nil
}

// WritePage writes one page of the target state.
func (u *Update) WritePage(pgno uint32, data []byte) error {
	if uint32(len(data)) != u.pageSize {
		return fmt.Errorf("%s: page %d has %d bytes, want %d", u.h.path, pgno, len(data), u.pageSize)
	}
	return u.h.writePage(pgno, data)
}

// Truncate drops the pages above pages (a shrink on the way to target).
func (u *Update) Truncate(pages uint32) error { return u.h.resize(pages, u.pageSize) }

// Commit sets the file's size to the target state's, syncs it, and then
// records in the sidecar that the file is complete at the target.
func (u *Update) Commit(pages uint32) error {
	if err := u.h.resize(pages, u.pageSize); err != nil {
		return err
	}
	if err := u.h.sync(); err != nil {
		return err
	}
	return u.h.save(State{Phase: Complete, TXID: u.target, PageSize: u.pageSize, Pages: pages})
}
