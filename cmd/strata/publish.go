package main

import (
	"context"
	"fmt"
	"io"
	"os"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/backends"
	"github.com/strata-db/strata/storage/filestore"
)

// runPublish lays out a copy of a replica in a directory for static web
// hosting: the LTX files in the file layout, and the manifest that lets an
// https:// replica list them. Run again, it brings the directory up to
// date: new files are copied, files gone from the source are removed, and
// the manifest is written after the copies and before the removals, so a
// directory uploaded at any moment never lists a file it lacks.
func runPublish(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("publish", "publish SRC_URL DIR", stderr)
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	src, err := backends.Open(ctx, pos[0])
	if err != nil {
		return err
	}
	defer src.Close()
	if err := os.MkdirAll(pos[1], 0o777); err != nil {
		return fmt.Errorf("publish into %s: %w", pos[1], err)
	}
	dst, err := filestore.New(pos[1])
	if err != nil {
		return err
	}
	files, err := listWithRetry(ctx, src)
	if err != nil {
		return fmt.Errorf("list %s: %w", src, err)
	}
	if len(files) == 0 {
		return fmt.Errorf("%s holds no LTX files: nothing to publish", src)
	}
	have, err := dst.ListAll(ctx)
	if err != nil {
		return err
	}
	existing := map[storage.FileKey]int64{}
	for _, f := range have {
		existing[f.Key()] = f.Size
	}
	wanted := map[storage.FileKey]bool{}
	copied := 0
	for _, f := range files {
		wanted[f.Key()] = true
		if size, ok := existing[f.Key()]; ok && size == f.Size {
			continue // LTX files never change once written
		}
		if err := copyFile(ctx, src, dst, f); err != nil {
			return err
		}
		copied++
	}
	// The manifest lists the source's files: the ones copied above, and
	// not the stale ones removed below.
	m, err := storage.PutManifest(ctx, dst, storage.NewManifest(storage.LayoutFile, files))
	if err != nil {
		return err
	}
	var stale []storage.FileInfo
	for _, f := range have {
		if !wanted[f.Key()] {
			stale = append(stale, f)
		}
	}
	if err := dst.Delete(ctx, stale); err != nil {
		return err
	}
	fmt.Fprintf(stderr, "published %s into %s: %d files (%d copied, %d removed), latest TXID %s\n",
		src, dst.Dir(), len(files), copied, len(stale), m.LatestTXID)
	fmt.Fprintf(stderr, "upload the contents of %s to a web server; read it with https://HOST/PATH\n", dst.Dir())
	return nil
}

func listWithRetry(ctx context.Context, b storage.Backend) ([]storage.FileInfo, error) {
	var files []storage.FileInfo
	err := storage.DefaultRetry.Do(ctx, func() (err error) {
		files, err = storage.ListFiles(ctx, b)
		return err
	})
	return files, err
}

// copyFile streams one file from src into dst (atomically there), retrying
// transient failures from the start, and checks its size.
func copyFile(ctx context.Context, src, dst storage.Backend, f storage.FileInfo) error {
	return storage.DefaultRetry.Do(ctx, func() error {
		rc, err := src.ReadRange(ctx, f, 0, -1)
		if err != nil {
			return fmt.Errorf("read %s from %s: %w", f, src, err)
		}
		defer rc.Close()
		// A broken download fails the write with the source's error, which
		// says whether it is worth another try.
		counted := &countReader{r: rc}
		if err := dst.Write(ctx, f, f.ModTime, counted); err != nil {
			return err
		}
		if counted.n != f.Size {
			return storage.Transient(fmt.Errorf("copy %s: got %d bytes, listed as %d", f, counted.n, f.Size))
		}
		return nil
	})
}

// countReader counts the bytes read through it.
type countReader struct {
	r io.Reader
	n int64
}

func (c *countReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
