package main

import (
	"errors"
	"fmt"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
)

// output is the database file a restore writes, and the files SQLite
// keeps beside a database: a leftover WAL or rollback journal would be
// replayed into a freshly restored file by the next sqlite3 that opens it,
// silently bringing back old rows, so they go together with the file.
type output struct {
	path string
}

// sideSuffixes are SQLite's files beside a database.
var sideSuffixes = []string{"-wal", "-shm", "-journal"}

// existing returns which of the database file and its side files exist.
func (o output) existing() ([]string, error) {
	var found []string
	for _, p := range append([]string{o.path}, o.sidePaths()...) {
		_, err := os.Lstat(p)
		switch {
		case err == nil:
			found = append(found, p)
		case !errors.Is(err, fs.ErrNotExist):
			return nil, err
		}
	}
	return found, nil
}

func (o output) sidePaths() []string {
	var ps []string
	for _, s := range sideSuffixes {
		ps = append(ps, o.path+s)
	}
	return ps
}

// check refuses to go on when anything would be overwritten without
// force, or when the existing database is open in a SQLite process.
func (o output) check(force bool) error {
	if st, err := os.Stat(o.path); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("%s is not a regular file", o.path)
	}
	found, err := o.existing()
	if err != nil {
		return err
	}
	if len(found) == 0 {
		return nil
	}
	if !force {
		return fmt.Errorf("%s (-force overwrites %s and removes its -wal, -shm and -journal files)", existMsg(found), o.path)
	}
	if holder, err := sqliteLockHolder(o.path); err != nil {
		return err
	} else if holder != 0 {
		return fmt.Errorf("%s is in use: process %d holds a SQLite lock on it; stop it before overwriting the file", o.path, holder)
	}
	return nil
}

// removeSideFiles deletes the side files of the database about to be
// replaced, and returns the names of those it removed.
func (o output) removeSideFiles() ([]string, error) {
	var removed []string
	for _, p := range o.sidePaths() {
		err := os.Remove(p)
		switch {
		case err == nil:
			removed = append(removed, filepath.Base(p))
		case !errors.Is(err, fs.ErrNotExist):
			return removed, fmt.Errorf("remove %s: %w", p, err)
		}
	}
	return removed, nil
}

// Temporary files: ".OUT.restore-NNN" beside OUT, exclusively flock'ed by
// the restore that writes it for as long as it lives, so that a later
// restore can tell a file abandoned by a killed process (unlocked) from one
// another restore is writing (locked). Creating a temporary file and
// sweeping abandoned ones both happen under an flock of the directory,
// so that a sweep never sees a new file in the moment before its creator
// locks it.

func (o output) tempPattern() *regexp.Regexp {
	return regexp.MustCompile(`^\.` + regexp.QuoteMeta(filepath.Base(o.path)) + `\.restore-[0-9]+$`)
}

// lockDir holds an exclusive flock on OUT's directory until unlock.
func (o output) lockDir() (unlock func(), err error) {
	d, err := os.Open(filepath.Dir(o.path))
	if err != nil {
		return nil, err
	}
	if err := flock(d, syscall.LOCK_EX); err != nil {
		d.Close()
		return nil, fmt.Errorf("lock directory %s: %w", d.Name(), err)
	}
	return func() { d.Close() }, nil // closing releases the flock
}

// sweepLocked removes the temporary files of earlier restores to OUT
// that no process holds any more (left by a kill -9 or a crash), and
// returns their names. The caller holds the directory's flock.
func (o output) sweepLocked() ([]string, error) {
	dir := filepath.Dir(o.path)
	entries, err := os.ReadDir(dir)
	if err != nil {
		return nil, err
	}
	pat := o.tempPattern()
	var removed []string
	for _, e := range entries {
		if !pat.MatchString(e.Name()) || !e.Type().IsRegular() {
			continue
		}
		p := filepath.Join(dir, e.Name())
		f, err := os.Open(p)
		if err != nil {
			continue // gone meanwhile
		}
		err = flock(f, syscall.LOCK_EX|syscall.LOCK_NB)
		if err == nil {
			if rerr := os.Remove(p); rerr == nil {
				removed = append(removed, e.Name())
			}
		}
		f.Close()
	}
	return removed, nil
}

// createTemp creates OUT's temporary file, locked, with the permissions a
// new file gets under the umask (0666 &^ umask, as sqlite3 creates a
// database) or, when OUT exists, OUT's own. It also sweeps abandoned ones.
func (o output) createTemp() (f *os.File, swept []string, err error) {
	unlock, err := o.lockDir()
	if err != nil {
		return nil, nil, err
	}
	defer unlock()
	if swept, err = o.sweepLocked(); err != nil {
		return nil, nil, err
	}
	dir, base := filepath.Split(o.path)
	for range 100 {
		name := filepath.Join(dir, "."+base+".restore-"+strconv.FormatUint(rand.Uint64N(1e12), 10))
		f, err = os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		if err != nil {
			return nil, swept, fmt.Errorf("create output: %w", err)
		}
		if err := flock(f, syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
			f.Close()
			os.Remove(name)
			return nil, swept, fmt.Errorf("lock %s: %w", name, err)
		}
		if st, err := os.Stat(o.path); err == nil {
			if err := f.Chmod(st.Mode().Perm()); err != nil {
				f.Close()
				os.Remove(name)
				return nil, swept, fmt.Errorf("chmod %s: %w", name, err)
			}
		}
		return f, swept, nil
	}
	return nil, swept, fmt.Errorf("create output: no free temporary name beside %s", o.path)
}

// install puts the finished temporary file in place: the side files of
// the old database go first, so that no moment exists where the new file
// sits beside an old WAL or journal; then the rename, then a sync of the
// directory so that the rename survives a crash.
func (o output) install(tmp *os.File) (removed []string, err error) {
	if removed, err = o.removeSideFiles(); err != nil {
		return removed, err
	}
	if err := os.Rename(tmp.Name(), o.path); err != nil {
		return removed, fmt.Errorf("rename into %s: %w", o.path, err)
	}
	if d, err := os.Open(filepath.Dir(o.path)); err == nil {
		d.Sync()
		d.Close()
	}
	return removed, nil
}

func flock(f *os.File, how int) error {
	for {
		err := syscall.Flock(int(f.Fd()), how)
		if !errors.Is(err, syscall.EINTR) {
			return err
		}
	}
}

// existMsg says that the files exist, in a sentence.
func existMsg(found []string) string {
	if len(found) == 1 {
		return found[0] + " exists"
	}
	return strings.Join(found, ", ") + " exist"
}
