package replica_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// ltxFile is an LTX file built by a test, with the pages it holds.
type ltxFile struct {
	info  storage.FileInfo
	data  []byte
	pages map[uint32][]byte
}

// encodeLTX encodes a snapshot (TXIDs 1-1, level 9) of pages 1..pages,
// each filled with random bytes (incompressible, so the file is large).
func encodeLTX(t testing.TB, seed uint64, pageSize, pages uint32) ltxFile {
	t.Helper()
	rng := rand.New(rand.NewPCG(seed, 2))
	var buf bytes.Buffer
	enc, err := ltx.NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	hdr := ltx.Header{
		Version: ltx.Version, Flags: ltx.HeaderFlagNoChecksum, PageSize: pageSize, Commit: pages,
		MinTXID: 1, MaxTXID: 1, Timestamp: time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC).UnixMilli(),
	}
	if err := enc.EncodeHeader(hdr); err != nil {
		t.Fatal(err)
	}
	f := ltxFile{pages: make(map[uint32][]byte)}
	for pgno := uint32(1); pgno <= pages; pgno++ {
		if pgno == ltx.LockPgno(pageSize) {
			continue
		}
		page := make([]byte, pageSize)
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		if err := enc.EncodePage(ltx.PageHeader{Pgno: pgno}, page); err != nil {
			t.Fatal(err)
		}
		f.pages[pgno] = page
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	f.data = buf.Bytes()
	f.info = storage.FileInfo{Level: storage.SnapshotLevel, MinTXID: 1, MaxTXID: 1, Size: int64(len(f.data))}
	return f
}

// header is the file's header.
func (f ltxFile) header(t testing.TB) ltx.Header {
	t.Helper()
	var h ltx.Header
	if err := h.UnmarshalBinary(f.data); err != nil {
		t.Fatal(err)
	}
	return h
}

// put stores an LTX file in the file-layout replica rooted at dir.
func put(t testing.TB, dir string, f storage.FileInfo, data []byte) {
	t.Helper()
	path := filepath.Join(dir, "ltx", strconv.Itoa(f.Level), f.Name())
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, data, 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestIndex: the header and page index of a file are read with one request
// for a small file, two (head and tail) for a large one, and a third only
// when the page index is larger than the tail guessed; every page then
// comes back with its own range request, intact.
func TestIndex(t *testing.T) {
	tests := []struct {
		name     string
		pageSize uint32
		pages    uint32
		requests int64
	}{
		{"small file: one request", 4096, 8, 1},
		{"large file: head and tail", 4096, 64, 2},
		{"page index larger than the tail guess: a third request", 512, 12000, 3},
	}
	for i, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			want := encodeLTX(t, uint64(i), tt.pageSize, tt.pages)
			dir := t.TempDir()
			put(t, dir, want.info, want.data)
			st := &countingStore{Backend: openDir(t, dir).Store}
			r := replica.New(st)
			f := listAll(t, r)[0]

			x, err := r.Index(ctx, f)
			if err != nil {
				t.Fatalf("Index: %v", err)
			}
			if n := st.reads.Load(); n != tt.requests {
				t.Errorf("Index of a %d-byte file made %d requests, want %d", f.Size, n, tt.requests)
			}
			if x.Header.PageSize != tt.pageSize || x.Header.Commit != tt.pages || len(x.Frames) != len(want.pages) {
				t.Fatalf("Index: page size %d, commit %d, %d frames; want %d, %d, %d",
					x.Header.PageSize, x.Header.Commit, len(x.Frames), tt.pageSize, tt.pages, len(want.pages))
			}
			for j, fr := range x.Frames {
				if j > 0 && fr.Pgno <= x.Frames[j-1].Pgno {
					t.Fatalf("frames not sorted by page number at %d", j)
				}
			}

			// Spot-check single-page reads: one request each.
			for _, pgno := range []uint32{1, tt.pages / 2, tt.pages} {
				before := st.reads.Load()
				page, err := r.ReadPage(ctx, x, pgno)
				if err != nil {
					t.Fatalf("ReadPage(%d): %v", pgno, err)
				}
				if !bytes.Equal(page, want.pages[pgno]) {
					t.Fatalf("ReadPage(%d) returned other bytes than were written", pgno)
				}
				if n := st.reads.Load() - before; n != 1 {
					t.Errorf("ReadPage(%d) made %d requests, want 1", pgno, n)
				}
			}
			if _, err := r.ReadPage(ctx, x, tt.pages+1); err == nil {
				t.Errorf("ReadPage of a page past the file's commit succeeded")
			}
		})
	}
}

// TestReadFramesMany: all frames of a file in one request decode to the
// pages written.
func TestReadFramesMany(t *testing.T) {
	ctx := context.Background()
	want := encodeLTX(t, 42, 1024, 100)
	dir := t.TempDir()
	put(t, dir, want.info, want.data)
	r := openDir(t, dir)
	x, err := r.Index(ctx, listAll(t, r)[0])
	if err != nil {
		t.Fatal(err)
	}
	pages, err := r.ReadFrames(ctx, x, x.Frames)
	if err != nil {
		t.Fatal(err)
	}
	for i, fr := range x.Frames {
		if !bytes.Equal(pages[i], want.pages[fr.Pgno]) {
			t.Fatalf("page %d differs", fr.Pgno)
		}
	}
}
