// Package filestore keeps a replica in a local directory, in Litestream's
// file layout: <dir>/ltx/<level>/<minTXID>-<maxTXID>.ltx, with metadata
// objects (storage.MetaStore) at <dir>/<name>.
package filestore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Store is a replica in a directory. It is safe for concurrent use: every
// call works on its own file handles and writes are rename-atomic.
type Store struct {
	dir string
}

// New returns a store rooted at dir. The directory need not exist yet; it
// is created on the first write (until then List reports ErrNoReplica).
func New(dir string) (*Store, error) {
	abs, err := filepath.Abs(dir)
	if err != nil {
		return nil, fmt.Errorf("replica path %q: %w", dir, err)
	}
	return &Store{dir: abs}, nil
}

// Dir is the replica's root directory.
func (s *Store) Dir() string { return s.dir }

func (s *Store) String() string { return "file://" + filepath.ToSlash(s.dir) }

// Close implements storage.Backend; a directory holds nothing open.
func (s *Store) Close() error { return nil }

// Layout implements storage.Layouter.
func (s *Store) Layout() storage.Layout { return storage.LayoutFile }

func (s *Store) levelDir(level int) string {
	return filepath.Join(s.dir, "ltx", strconv.Itoa(level))
}

func (s *Store) path(f storage.FileInfo) string {
	return filepath.Join(s.levelDir(f.Level), f.Name())
}

// List implements storage.Backend.
func (s *Store) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	entries, err := os.ReadDir(s.levelDir(level))
	if err != nil {
		return nil, s.listError(s.levelDir(level), err)
	}
	var files []storage.FileInfo
	for _, e := range entries {
		minTXID, maxTXID, err := ltx.ParseFilename(e.Name())
		if err != nil || !e.Type().IsRegular() || minTXID < from {
			continue
		}
		info, err := e.Info()
		if errors.Is(err, fs.ErrNotExist) {
			continue // deleted since ReadDir
		} else if err != nil {
			return nil, fmt.Errorf("stat %s: %w", e.Name(), err)
		}
		files = append(files, storage.FileInfo{
			Level: level, MinTXID: minTXID, MaxTXID: maxTXID,
			Size: info.Size(), ModTime: info.ModTime(),
		})
	}
	storage.SortFiles(files)
	return files, nil
}

// ListAll implements storage.AllLister.
func (s *Store) ListAll(ctx context.Context) ([]storage.FileInfo, error) {
	entries, err := os.ReadDir(filepath.Join(s.dir, "ltx"))
	if err != nil {
		return nil, s.listError(filepath.Join(s.dir, "ltx"), err)
	}
	var all []storage.FileInfo
	for _, e := range entries {
		level, err := strconv.Atoi(e.Name())
		if err != nil || level < 0 || level > storage.MaxLevel || strconv.Itoa(level) != e.Name() || !e.IsDir() {
			continue
		}
		files, err := s.List(ctx, level, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
	}
	return all, nil
}

// listError explains a folder that could not be read: a level not written
// yet (nil: no files), a replica that is not there, or err itself.
func (s *Store) listError(dir string, err error) error {
	if rootErr := s.checkRoot(); rootErr != nil {
		return rootErr
	}
	if errors.Is(err, fs.ErrNotExist) {
		return nil
	}
	return fmt.Errorf("list %s: %w", dir, err)
}

// checkRoot tells a replica without files (nil) from one that is not
// there: a missing root, or a file where the root should be (a database
// path given instead of a replica URL).
func (s *Store) checkRoot() error {
	fi, err := os.Stat(s.dir)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return &noDirError{dir: s.dir, err: err}
	case err != nil:
		return fmt.Errorf("%s: %w", s.dir, err)
	case !fi.IsDir():
		return fmt.Errorf("%s is a file, not a replica directory (a replica URL or directory is expected): %w", s.dir, storage.ErrNoReplica)
	}
	return nil
}

// noDirError is a replica directory that does not exist. It matches
// storage.ErrNoReplica, and fs.ErrNotExist: a write would create it (an
// import into a new directory is fine), unlike a missing bucket.
type noDirError struct {
	dir string
	err error
}

func (e *noDirError) Error() string   { return e.dir + ": directory does not exist" }
func (e *noDirError) Unwrap() []error { return []error{storage.ErrNoReplica, e.err} }

// ReadRange implements storage.Backend.
func (s *Store) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	fh, err := os.Open(s.path(f))
	if errors.Is(err, fs.ErrNotExist) {
		return nil, fmt.Errorf("open %s: %w", s.path(f), storage.ErrNotFound)
	} else if err != nil {
		return nil, fmt.Errorf("open %s: %w", s.path(f), err)
	}
	if length < 0 {
		if _, err := fh.Seek(off, io.SeekStart); err != nil {
			fh.Close()
			return nil, fmt.Errorf("seek %s: %w", s.path(f), err)
		}
		return fh, nil
	}
	return readCloser{io.NewSectionReader(fh, off, length), fh}, nil
}

type readCloser struct {
	io.Reader
	io.Closer
}

// Write implements storage.Backend: temp file, fsync, rename, fsync dir.
func (s *Store) Write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(s.levelDir(f.Level), f.Name(), timestamp, r, os.Rename)
}

// WriteNew implements storage.ExclusiveWriter: the temp file is linked
// into place, which fails if the name exists, and then removed.
func (s *Store) WriteNew(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(s.levelDir(f.Level), f.Name(), timestamp, r, func(tmp, dst string) error {
		if err := os.Link(tmp, dst); err != nil {
			if errors.Is(err, fs.ErrExist) {
				return fmt.Errorf("%s: %w", dst, storage.ErrExists)
			}
			return err
		}
		return os.Remove(tmp)
	})
}

// write stages r in a synced temp file in dir, then publish moves it to
// dir/name. Files and folders get the modes the umask leaves of 0666 and
// 0777, as Litestream's and every other tool's files do.
func (s *Store) write(dir, name string, timestamp time.Time, r io.Reader, publish func(tmp, dst string) error) error {
	dst := filepath.Join(dir, name)
	if err := os.MkdirAll(dir, 0o777); err != nil {
		return fmt.Errorf("create %s: %w", dir, err)
	}
	tmp, err := createTemp(dir, "."+name+".tmp-")
	if err != nil {
		return fmt.Errorf("create temp file in %s: %w", dir, err)
	}
	defer os.Remove(tmp.Name()) // no-op once published
	if _, err := io.Copy(tmp, r); err != nil {
		tmp.Close()
		return fmt.Errorf("write %s: %w", dst, err)
	}
	if err := tmp.Sync(); err != nil {
		tmp.Close()
		return fmt.Errorf("sync %s: %w", tmp.Name(), err)
	}
	if err := tmp.Close(); err != nil {
		return fmt.Errorf("close %s: %w", tmp.Name(), err)
	}
	if !timestamp.IsZero() {
		_ = os.Chtimes(tmp.Name(), timestamp, timestamp) // a hint only
	}
	if err := publish(tmp.Name(), dst); err != nil {
		return fmt.Errorf("publish %s: %w", dst, err)
	}
	return syncDir(dir)
}

// createTemp is os.CreateTemp with mode 0666 less the umask (CreateTemp
// always makes 0600 files, which other users of a shared replica cannot
// read).
func createTemp(dir, prefix string) (*os.File, error) {
	for range 100 {
		name := filepath.Join(dir, prefix+strconv.FormatUint(rand.Uint64(), 36))
		f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o666)
		if errors.Is(err, fs.ErrExist) {
			continue
		}
		return f, err
	}
	return nil, fmt.Errorf("no free temporary name in %s", dir)
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return fmt.Errorf("open %s: %w", dir, err)
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", dir, err)
	}
	return nil
}

// Delete implements storage.Backend.
func (s *Store) Delete(ctx context.Context, files []storage.FileInfo) error {
	for _, f := range files {
		if err := os.Remove(s.path(f)); err != nil && !errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("delete %s: %w", s.path(f), err)
		}
	}
	return nil
}
