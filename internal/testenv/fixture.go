package testenv

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// CopyFixtureToS3 uploads a replica kept in Litestream's file layout
// (fixtureDir/ltx/<level>/*.ltx) to prefix in bucket, in the S3 layout,
// with each object's litestream-timestamp taken from its LTX header.
// fixtureDir may also be a directory holding such a replica as replica/.
func CopyFixtureToS3(t testing.TB, srv *S3Server, bucket, prefix, fixtureDir string) {
	t.Helper()
	if err := CopyReplica(context.Background(), srv, bucket, prefix, fixtureDir); err != nil {
		t.Fatal(err)
	}
}

// CopyReplica is CopyFixtureToS3 for callers outside tests.
func CopyReplica(ctx context.Context, srv *S3Server, bucket, prefix, fixtureDir string) error {
	root := filepath.Join(fixtureDir, "ltx")
	if _, err := os.Stat(root); err != nil {
		root = filepath.Join(fixtureDir, "replica", "ltx")
	}
	levels, err := os.ReadDir(root)
	if err != nil {
		return fmt.Errorf("fixture %s: %w", fixtureDir, err)
	}
	st, err := srv.OpenStore(ctx, bucket, prefix)
	if err != nil {
		return err
	}
	defer st.Close()
	for _, lvl := range levels {
		level, err := strconv.Atoi(lvl.Name())
		if err != nil || !lvl.IsDir() {
			continue
		}
		if err := copyLevel(ctx, st, filepath.Join(root, lvl.Name()), level); err != nil {
			return err
		}
	}
	return nil
}

func copyLevel(ctx context.Context, st storage.Backend, dir string, level int) error {
	entries, err := os.ReadDir(dir)
	if err != nil {
		return err
	}
	for _, e := range entries {
		minTXID, maxTXID, err := ltx.ParseFilename(e.Name())
		if err != nil {
			continue
		}
		f := storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
		if err := copyFile(ctx, st, filepath.Join(dir, e.Name()), f); err != nil {
			return err
		}
	}
	return nil
}

func copyFile(ctx context.Context, st storage.Backend, path string, f storage.FileInfo) error {
	fh, err := os.Open(path)
	if err != nil {
		return err
	}
	defer fh.Close()
	buf := make([]byte, ltx.HeaderSize)
	if _, err := io.ReadFull(fh, buf); err != nil {
		return fmt.Errorf("read header of %s: %w", path, err)
	}
	var hdr ltx.Header
	if err := hdr.UnmarshalBinary(buf); err != nil {
		return fmt.Errorf("decode header of %s: %w", path, err)
	}
	if _, err := fh.Seek(0, io.SeekStart); err != nil {
		return err
	}
	if err := st.Write(ctx, f, time.UnixMilli(hdr.Timestamp), fh); err != nil {
		return fmt.Errorf("upload %s: %w", path, err)
	}
	return nil
}
