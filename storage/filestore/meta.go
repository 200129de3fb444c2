package filestore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strata-db/strata/storage"
)

// ReadMeta implements storage.MetaStore. The token is the file's inode,
// size and modification time: WriteMeta replaces the file, so a new
// version has a new inode even when written within one clock tick. An
// unchanged file is not read at all.
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	path := filepath.Join(s.dir, name)
	fh, err := os.Open(path)
	if errors.Is(err, fs.ErrNotExist) {
		return nil, "", fmt.Errorf("read %s: %w", path, storage.ErrNotFound)
	} else if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	defer fh.Close()
	// Stat the handle, not the path: the token then describes exactly the
	// content read below, even if the file is replaced meanwhile.
	fi, err := fh.Stat()
	if err != nil {
		return nil, "", fmt.Errorf("stat %s: %w", path, err)
	}
	tag := token(fi)
	if etag != "" && etag == tag {
		return nil, tag, storage.ErrNotModified
	}
	if fi.Size() > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("read %s: %d bytes, larger than a metadata object may be (%d)", path, fi.Size(), storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(fh, storage.MaxMetaSize))
	if err != nil {
		return nil, "", fmt.Errorf("read %s: %w", path, err)
	}
	return data, tag, nil
}

// WriteMeta implements storage.MetaStore: temp file, fsync, rename.
func (s *Store) WriteMeta(ctx context.Context, name string, data []byte) error {
	if err := storage.CheckMetaName(name); err != nil {
		return err
	}
	return s.write(s.dir, name, time.Time{}, bytes.NewReader(data), os.Rename)
}

func token(fi fs.FileInfo) string {
	return strconv.FormatUint(inode(fi), 36) + "-" + strconv.FormatInt(fi.Size(), 36) + "-" + strconv.FormatInt(fi.ModTime().UnixNano(), 36)
}
