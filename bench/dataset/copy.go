package dataset

import (
	"context"
	"fmt"
	"io"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// copyParallel bounds concurrent uploads: enough to hide per-request
// latency for many small files without flooding the server.
const copyParallel = 8

// Upload copies the dataset's replica to dst and returns how many files
// it copied.
func (d *Dataset) Upload(ctx context.Context, dst storage.Backend) (int, error) {
	src, err := filestore.New(d.ReplicaDir())
	if err != nil {
		return 0, err
	}
	return CopyReplica(ctx, src, dst)
}

// CopyReplica copies every LTX file of src to dst, keeping each file's
// commit timestamp (read from its header) as the stored timestamp.
func CopyReplica(ctx context.Context, src, dst storage.Backend) (int, error) {
	var files []storage.FileInfo
	for level := 0; level <= storage.MaxLevel; level++ {
		fs, err := src.List(ctx, level, 0)
		if err != nil {
			return 0, err
		}
		files = append(files, fs...)
	}
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(copyParallel)
	for _, f := range files {
		g.Go(func() error { return copyFile(gctx, src, dst, f) })
	}
	return len(files), g.Wait()
}

func copyFile(ctx context.Context, src, dst storage.Backend, f storage.FileInfo) error {
	ts, err := headerTime(ctx, src, f)
	if err != nil {
		return err
	}
	rc, err := src.ReadRange(ctx, f, 0, -1)
	if err != nil {
		return err
	}
	defer rc.Close()
	if err := dst.Write(ctx, f, ts, rc); err != nil {
		return fmt.Errorf("copy %s to %s: %w", f, dst, err)
	}
	return nil
}

func headerTime(ctx context.Context, b storage.Backend, f storage.FileInfo) (time.Time, error) {
	rc, err := b.ReadRange(ctx, f, 0, ltx.HeaderSize)
	if err != nil {
		return time.Time{}, err
	}
	defer rc.Close()
	buf := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(rc, buf); err != nil {
		return time.Time{}, fmt.Errorf("read header of %s: %w", f, err)
	}
	var hdr ltx.Header
	if err := hdr.UnmarshalBinary(buf); err != nil {
		return time.Time{}, fmt.Errorf("header of %s: %w", f, err)
	}
	return time.UnixMilli(hdr.Timestamp), nil
}
