package replica_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// FuzzIndex feeds IndexAndData any bytes as a small level-0 file (read
// whole) or, padded past the whole-read size, as a large one (read by
// range), and holds it to what it promises: an error is a
// *replica.CorruptError naming the file; a file read whole and accepted
// is one the ltx package verifies, every frame of its index decodes to
// the page the ltx decoder gives; a large file accepted has an index
// whose frames each decode or fail as corrupt. Never a panic.
//
// CI runs it for a few seconds (make test); `go test -fuzz FuzzIndex
// ./replica` explores further.
func FuzzIndex(f *testing.F) {
	for _, level := range []int{0, 9} {
		b, err := os.ReadFile(fixtureFile(fixture.ReplicaDir(f), level, 1))
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b, false)
	}
	small := encodeLTX(f, 1, 512, 6).data
	f.Add(small, false)
	f.Add(small[:len(small)-3], false)
	f.Add(encodeLTX(f, 2, 4096, 20).data, true)
	f.Fuzz(func(t *testing.T, data []byte, large bool) {
		if large && len(data) <= 64<<10 {
			return // only real large files are worth reading by range
		}
		ctx := context.Background()
		file := storage.FileInfo{Level: 9, MinTXID: 1, MaxTXID: 1, Size: int64(len(data))}
		r := replica.New(memFile{file: file, data: data})
		r.Retry = fastRetry
		x, whole, err := r.IndexAndData(ctx, file)
		if err != nil {
			var ce *replica.CorruptError
			if !errors.As(err, &ce) || ce.File.Key() != file.Key() {
				t.Fatalf("IndexAndData: %v, want a *replica.CorruptError naming %s", err, file)
			}
			return
		}
		if whole != nil {
			pages := map[uint32][]byte{}
			dec := ltx.NewDecoder(bytes.NewReader(data))
			if err := dec.DecodeHeader(); err != nil {
				t.Fatalf("accepted a file the ltx decoder refuses: %v", err)
			}
			for {
				var ph ltx.PageHeader
				buf := make([]byte, dec.Header().PageSize)
				if err := dec.DecodePage(&ph, buf); err != nil {
					break
				}
				pages[ph.Pgno] = buf
			}
			if err := dec.Close(); err != nil {
				t.Fatalf("accepted a file the ltx decoder refuses: %v", err)
			}
			for _, fr := range x.Frames {
				page, err := replica.DecodeFrame(whole[fr.Offset:fr.Offset+int64(fr.Size)], fr.Pgno, x.Header.PageSize)
				if err != nil || !bytes.Equal(page, pages[fr.Pgno]) {
					t.Fatalf("page %d of an accepted file: %v, or not the page the ltx decoder gives", fr.Pgno, err)
				}
			}
			return
		}
		got, err := r.ReadFrames(ctx, x, x.Frames)
		var ce *replica.CorruptError
		switch {
		case err != nil && !errors.As(err, &ce):
			t.Fatalf("ReadFrames: %v, want a *replica.CorruptError", err)
		case err == nil && len(got) != len(x.Frames):
			t.Fatalf("ReadFrames gave %d pages for %d frames", len(got), len(x.Frames))
		}
		for _, p := range got {
			if len(p) != int(x.Header.PageSize) {
				t.Fatalf("a page of %d bytes, page size %d", len(p), x.Header.PageSize)
			}
		}
	})
}

// memFile is a backend holding one file in memory: fuzzing reads it
// thousands of times a second.
type memFile struct {
	file storage.FileInfo
	data []byte
}

func (m memFile) List(_ context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	if level != m.file.Level || m.file.MinTXID < from {
		return nil, nil
	}
	return []storage.FileInfo{m.file}, nil
}

func (m memFile) ReadRange(_ context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	if f.Key() != m.file.Key() {
		return nil, storage.ErrNotFound
	}
	if length < 0 {
		length = int64(len(m.data)) - off
	}
	end := min(off+length, int64(len(m.data)))
	return io.NopCloser(bytes.NewReader(m.data[min(off, end):end])), nil
}

func (m memFile) Write(context.Context, storage.FileInfo, time.Time, io.Reader) error {
	return errors.ErrUnsupported
}

func (m memFile) Delete(context.Context, []storage.FileInfo) error { return errors.ErrUnsupported }

func (m memFile) String() string { return "mem://fuzz" }
