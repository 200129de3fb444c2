package replica

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math/rand/v2"
	"os"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Import uploads the SQLite database file at dbPath as the first snapshot
// (TXID 1, level 9) of an empty replica. The file must not change while it
// is read: copy a live database first with dbcopy.Copy, which uses SQLite's
// backup API. (This package stays free of a SQLite library so that the
// loadable extension does not link a second copy of SQLite.)
func (r *Replica) Import(ctx context.Context, dbPath string) (storage.FileInfo, error) {
	if err := r.CheckEmpty(ctx); err != nil {
		return storage.FileInfo{}, err
	}
	return r.uploadSnapshot(ctx, dbPath)
}

// CheckEmpty returns an error unless the replica has no LTX files.
func (r *Replica) CheckEmpty(ctx context.Context) error {
	files, err := r.Files(ctx)
	if errors.Is(err, storage.ErrNoReplica) && errors.Is(err, fs.ErrNotExist) {
		return nil // a directory not there yet: the first write creates it
	} else if err != nil {
		return err
	}
	if len(files) > 0 {
		var last ltx.TXID // files come level by level: the last one listed is not the newest
		for _, f := range files {
			last = max(last, f.MaxTXID)
		}
		return fmt.Errorf("%s is not empty (%d LTX files, up to TXID %s): import only into an empty replica", r.Store, len(files), last)
	}
	return nil
}

// uploadSnapshot encodes a quiescent database file as an LTX snapshot and
// streams it to level 9.
func (r *Replica) uploadSnapshot(ctx context.Context, path string) (storage.FileInfo, error) {
	pageSize, pages, err := dbGeometry(path)
	if err != nil {
		return storage.FileInfo{}, err
	}
	f := storage.FileInfo{Level: storage.SnapshotLevel, MinTXID: 1, MaxTXID: 1}
	hdr := FileHeader{PageSize: pageSize, Commit: pages, MinTXID: 1, MaxTXID: 1, Timestamp: time.Now(), NodeID: rand.Uint64()}
	attempts := 0
	err = r.Retry.Do(ctx, func() error {
		attempts++
		err := r.writeSnapshot(ctx, f, path, hdr)
		if errors.Is(err, storage.ErrExists) && attempts > 1 && r.isOurs(ctx, f, hdr) {
			return nil // an earlier attempt landed but its answer was lost
		}
		return err
	})
	if errors.Is(err, storage.ErrExists) {
		return f, fmt.Errorf("upload snapshot to %s: another import created it meanwhile: %w", r.Store, err)
	}
	if err != nil {
		return f, fmt.Errorf("upload snapshot to %s: %w", r.Store, err)
	}
	return f, nil
}

// writeSnapshot encodes the database into a pipe that the upload reads,
// creating the file only if it does not exist where the backend can.
func (r *Replica) writeSnapshot(ctx context.Context, f storage.FileInfo, path string, hdr FileHeader) error {
	pr, pw := io.Pipe()
	done := make(chan struct{})
	go func() {
		defer close(done)
		pw.CloseWithError(encodeDatabase(path, hdr, pw))
	}()
	ts := hdr.Timestamp
	var err error
	if ew, ok := r.Store.(storage.ExclusiveWriter); ok {
		err = ew.WriteNew(ctx, f, ts, pr)
	} else {
		err = r.Store.Write(ctx, f, ts, pr)
	}
	pr.CloseWithError(err) // unblocks the encoder if the upload failed
	<-done
	return err
}

// isOurs reports whether the file f in storage is the snapshot hdr
// describes (same commit time, size and page size).
func (r *Replica) isOurs(ctx context.Context, f storage.FileInfo, hdr FileHeader) bool {
	b, err := r.ReadAt(ctx, f, 0, ltx.HeaderSize)
	if err != nil {
		return false
	}
	var got ltx.Header
	want := hdr.Header()
	return got.UnmarshalBinary(b) == nil && got.Timestamp == want.Timestamp && got.Commit == want.Commit &&
		got.PageSize == want.PageSize && got.NodeID == want.NodeID
}

// dbGeometry reads the page size and page count of a database file.
func dbGeometry(path string) (pageSize, pages uint32, err error) {
	fh, err := os.Open(path)
	if err != nil {
		return 0, 0, err
	}
	defer fh.Close()
	hdr := make([]byte, 100)
	if _, err := io.ReadFull(fh, hdr); err != nil {
		return 0, 0, fmt.Errorf("%s: not a SQLite database (short header): %w", path, err)
	}
	if string(hdr[:16]) != "SQLite format 3\x00" {
		return 0, 0, fmt.Errorf("%s: not a SQLite database (no SQLite header)", path)
	}
	pageSize = uint32(binary.BigEndian.Uint16(hdr[16:18]))
	if pageSize == 1 {
		pageSize = 65536
	}
	if !ltx.IsValidPageSize(pageSize) {
		return 0, 0, fmt.Errorf("%s: invalid page size %d", path, pageSize)
	}
	st, err := fh.Stat()
	if err != nil {
		return 0, 0, err
	}
	return pageSize, uint32(st.Size() / int64(pageSize)), nil
}

// encodeDatabase writes the database at path as an LTX snapshot to w.
func encodeDatabase(path string, hdr FileHeader, w io.Writer) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	enc, err := NewEncoder(w, hdr, false)
	if err != nil {
		return err
	}
	buf := make([]byte, hdr.PageSize)
	lock := ltx.LockPgno(hdr.PageSize)
	for pgno := uint32(1); pgno <= hdr.Commit; pgno++ {
		if pgno == lock {
			continue
		}
		if _, err := fh.ReadAt(buf, int64(pgno-1)*int64(hdr.PageSize)); err != nil {
			enc.Abort()
			return fmt.Errorf("read page %d of %s: %w", pgno, path, err)
		}
		if err := enc.WritePage(pgno, buf); err != nil {
			enc.Abort()
			return err
		}
	}
	return enc.Close()
}
