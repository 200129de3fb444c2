package hydrate

import (
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	"github.com/superfly/ltx"
)

// SidecarSuffix names the sidecar: the database file's path plus it.
const SidecarSuffix = ".strata"

// sidecarFormat is the version of the sidecar's JSON.
const sidecarFormat = 1

// Phase is what the file holds, as its sidecar says.
type Phase string

const (
	// Restoring: a restore of Plan is under way; the file is no database
	// yet. The first Applied files of Plan are in it, synced.
	Restoring Phase = "restoring"
	// Updating: the file is being brought from TXID to Target. Pages
	// that changed after TXID may be half written: the file is no
	// database until the update is done again (from TXID).
	Updating Phase = "updating"
	// Complete: the file is the database at TXID, synced.
	Complete Phase = "complete"
)

// State is the sidecar: which replica the file belongs to and what it
// holds. It is replaced whole (write, sync, rename), never edited in place.
type State struct {
	Format  int    `json:"format"`
	Replica string `json:"replica"` // the replica URL, without secrets
	Phase   Phase  `json:"state"`
	// TXID is the state the file holds (Complete), or held before the
	// update under way (Updating); 0 when Restoring.
	TXID ltx.TXID `json:"txid"`
	// Target is the state being restored or updated to.
	Target   ltx.TXID `json:"target,omitempty"`
	PageSize uint32   `json:"page_size,omitempty"`
	Pages    uint32   `json:"pages,omitempty"` // database size in pages (Complete), or as the last applied file left it
	// Plan names the files of the restore under way ("L9/<min>-<max>.ltx"),
	// in order; Applied says how many of them are in the file.
	Plan    []string  `json:"plan,omitempty"`
	Applied int       `json:"applied,omitempty"`
	PID     int       `json:"pid"` // the process that wrote the sidecar
	Updated time.Time `json:"updated"`
}

// readSidecar reads the sidecar of path; ok is false when there is none.
func readSidecar(path string) (s State, ok bool, err error) {
	b, err := os.ReadFile(path + SidecarSuffix)
	if errors.Is(err, os.ErrNotExist) {
		return State{}, false, nil
	}
	if err != nil {
		return State{}, false, &FileError{Path: path + SidecarSuffix, Op: "read", Err: err}
	}
	if err := json.Unmarshal(b, &s); err != nil || s.Format == 0 || s.Replica == "" {
		if err == nil {
			err = errors.New("no format or replica")
		}
		return State{}, false, fmt.Errorf("sidecar %s is unreadable (%v): remove %s and %s to hydrate again: %w",
			path+SidecarSuffix, err, path, path+SidecarSuffix, ErrForeign)
	}
	if s.Format > sidecarFormat {
		return State{}, false, fmt.Errorf("sidecar %s has format %d, newer than this strata's %d: %w", path+SidecarSuffix, s.Format, sidecarFormat, ErrForeign)
	}
	return s, true, nil
}

// writeSidecar replaces the sidecar of path with s: a new file written and
// synced, renamed over the old one, and the directory synced, so that
// after a crash the sidecar is either the old one or s, never a mix, and
// once it returns s is what a restart reads.
func writeSidecar(path string, s State) error {
	s.Format, s.PID, s.Updated = sidecarFormat, os.Getpid(), time.Now().UTC()
	b, err := json.MarshalIndent(s, "", "  ")
	if err != nil {
		return err
	}
	b = append(b, '\n')
	name := path + SidecarSuffix
	tmp := name + ".tmp"
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return &FileError{Path: tmp, Op: "create", Err: err}
	}
	_, err = f.Write(b)
	if err == nil {
		err = f.Sync()
	}
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		os.Remove(tmp)
		return &FileError{Path: tmp, Op: "write", Err: err}
	}
	if err := os.Rename(tmp, name); err != nil {
		os.Remove(tmp)
		return &FileError{Path: name, Op: "rename", Err: err}
	}
	if err := syncDir(filepath.Dir(path)); err != nil {
		return &FileError{Path: filepath.Dir(path), Op: "sync", Err: err}
	}
	return nil
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}

// ReadState reads the sidecar of the hydrated file at path, without
// opening or locking the file; ok is false when there is none.
func ReadState(path string) (s State, ok bool, err error) { return readSidecar(path) }
