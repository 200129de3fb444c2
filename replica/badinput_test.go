package replica_test

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"runtime"
	"runtime/debug"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// fixtureFile is the path of a fixture file in a copy of the replica.
func fixtureFile(dir string, level int, txid ltx.TXID) string {
	return filepath.Join(dir, "ltx", fmt.Sprint(level), ltx.FormatFilename(txid, txid))
}

func mutate(t testing.TB, path string, fn func([]byte) []byte) {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, fn(b), 0o644); err != nil {
		t.Fatal(err)
	}
}

// TestBadFiles: damaged or vanished files give errors that name the file,
// typed so that callers can tell corruption from absence, and never panic.
func TestBadFiles(t *testing.T) {
	latest := fixture.Truth(t)[len(fixture.Truth(t))-1].TXID
	tests := []struct {
		name string
		// damage breaks L0 file txid of a copy of the fixture, after it was
		// listed.
		damage  func(t testing.TB, dir string)
		txid    ltx.TXID
		corrupt bool // errors.As *replica.CorruptError, else errors.Is storage.ErrNotFound
		// header and index say whether the damage shows in the header or
		// the page index; when neither, only a whole read (Restore) notices.
		header, index bool
	}{
		{
			name: "truncated in half",
			damage: func(t testing.TB, dir string) {
				mutate(t, fixtureFile(dir, 0, latest), func(b []byte) []byte { return b[:len(b)/2] })
			},
			txid: latest, corrupt: true, header: false, index: true,
		},
		{
			name: "wrong magic",
			damage: func(t testing.TB, dir string) {
				mutate(t, fixtureFile(dir, 0, 5), func(b []byte) []byte { copy(b, "XXXX"); return b })
			},
			txid: 5, corrupt: true, header: true, index: true,
		},
		{
			name: "name says TXID 3, header says TXID 2",
			damage: func(t testing.TB, dir string) {
				b, err := os.ReadFile(fixtureFile(dir, 0, 2))
				if err != nil {
					t.Fatal(err)
				}
				if err := os.WriteFile(fixtureFile(dir, 0, 3), b, 0o644); err != nil {
					t.Fatal(err)
				}
			},
			txid: 3, corrupt: true, header: true, index: true,
		},
		{
			name: "empty file",
			damage: func(t testing.TB, dir string) {
				mutate(t, fixtureFile(dir, 0, 7), func([]byte) []byte { return nil })
			},
			txid: 7, corrupt: true, header: true, index: true,
		},
		{
			name: "page data damaged, page index intact",
			damage: func(t testing.TB, dir string) {
				mutate(t, fixtureFile(dir, 0, latest), func(b []byte) []byte {
					b[ltx.HeaderSize+ltx.PageHeaderSize+40] ^= 0xff
					return b
				})
			},
			txid: latest, corrupt: true, header: false, index: false,
		},
		{
			name: "deleted after listing",
			damage: func(t testing.TB, dir string) {
				if err := os.Remove(fixtureFile(dir, 0, 4)); err != nil {
					t.Fatal(err)
				}
			},
			txid: 4, corrupt: false, header: true, index: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			ctx := context.Background()
			dir := fixture.CopyReplica(t)
			r := openDir(t, dir)
			// A plan of level-0 files only, so that every damaged file
			// below is in it: the full listing's plan would take snapshots
			// and compacted files instead.
			plan := level0Plan(t, r)
			files := plan.Files
			tt.damage(t, dir)
			// The listing is from before the damage, as for a reader whose
			// files change under it; sizes are what storage says now.
			files = relist(t, r, files)
			plan.Files = relist(t, r, plan.Files)
			bad := fileAt(t, files, 0, tt.txid, tt.txid)

			check := func(op string, err error) {
				t.Helper()
				if err == nil {
					t.Fatalf("%s succeeded on a bad file", op)
				}
				t.Logf("%s: %v", op, err)
				if !strings.Contains(err.Error(), bad.Name()) {
					t.Errorf("%s: error %q does not name the file %s", op, err, bad.Name())
				}
				var ce *replica.CorruptError
				switch {
				case tt.corrupt && !errors.As(err, &ce):
					t.Errorf("%s: error %q is not a *replica.CorruptError", op, err)
				case tt.corrupt && ce.File.Key() != bad.Key():
					t.Errorf("%s: CorruptError names %s, want %s", op, ce.File, bad)
				case !tt.corrupt && !errors.Is(err, storage.ErrNotFound):
					t.Errorf("%s: error %q does not match storage.ErrNotFound", op, err)
				}
			}
			if tt.header {
				_, err := r.ParsedHeader(ctx, bad)
				check("ParsedHeader", err)
			}
			if tt.index {
				_, err := r.Index(ctx, bad)
				check("Index", err)
			}
			_, err := restoreFile(t, r, plan)
			check("Restore", err)
		})
	}
}

// relist gives files the sizes storage reports now (a vanished file keeps
// its listed size).
func relist(t testing.TB, r *replica.Replica, files []storage.FileInfo) []storage.FileInfo {
	t.Helper()
	now := make(map[storage.FileKey]storage.FileInfo)
	for _, f := range listAll(t, r) {
		now[f.Key()] = f
	}
	out := make([]storage.FileInfo, len(files))
	for i, f := range files {
		if g, ok := now[f.Key()]; ok {
			f = g
		}
		out[i] = f
	}
	return out
}

// exercise runs every read path over one file stored as an L9 snapshot
// [1-1] in a new directory under base: header, index, every page, restore.
// It reports a panic as a test failure naming the input, and returns the
// restore's error.
func exercise(t testing.TB, base, name string, data []byte) (restoreErr error) {
	t.Helper()
	defer func() {
		if p := recover(); p != nil {
			t.Fatalf("%s (%d bytes): panic: %v\n%s", name, len(data), p, debug.Stack())
		}
	}()
	ctx := context.Background()
	dir, err := os.MkdirTemp(base, "input-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	f := storage.FileInfo{Level: storage.SnapshotLevel, MinTXID: 1, MaxTXID: 1, Size: int64(len(data))}
	put(t, dir, f, data)
	r := openDir(t, dir)
	_, _ = r.ParsedHeader(ctx, f)
	if x, err := r.Index(ctx, f); err == nil {
		_, _ = r.ReadFrames(ctx, x, x.Frames)
		for _, fr := range x.Frames {
			_, _ = r.ReadPage(ctx, x, fr.Pgno)
		}
	}
	_, _ = r.Plan(ctx, replica.Latest())
	out, err := os.Create(filepath.Join(dir, "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	return r.Restore(ctx, replica.Plan{Files: []storage.FileInfo{f}, TXID: 1}, out, replica.RestoreOptions{})
}

// TestRandomBytesNeverPanic feeds random bytes, truncations and mutations
// of real LTX files through Index, ReadPage and Restore. A mutated file must
// never restore: the LTX checksum covers every byte.
func TestRandomBytesNeverPanic(t *testing.T) {
	snapshot, err := os.ReadFile(fixtureFile(fixture.ReplicaDir(t), 9, 1))
	if err != nil {
		t.Fatal(err)
	}
	base := t.TempDir()
	if err := exercise(t, base, "the fixture's snapshot", snapshot); err != nil {
		t.Fatalf("the intact snapshot does not restore: %v", err)
	}
	built := encodeLTX(t, 7, 512, 30).data
	rng := rand.New(rand.NewPCG(2026, 11))
	for i := range 300 {
		orig := snapshot
		if i%2 == 1 {
			orig = built
		}
		var data []byte
		var what string
		switch i % 5 {
		case 0:
			data = make([]byte, rng.IntN(4096))
			for j := range data {
				data[j] = byte(rng.Uint32())
			}
			what = "random bytes"
		case 1:
			// A valid header followed by random bytes.
			data = append([]byte(nil), orig[:ltx.HeaderSize]...)
			for range rng.IntN(4096) {
				data = append(data, byte(rng.Uint32()))
			}
			what = "valid header, random body"
		case 2:
			data = append([]byte(nil), orig[:rng.IntN(len(orig))]...)
			what = "truncated"
		default:
			data = append([]byte(nil), orig...)
			for range 1 + rng.IntN(3) {
				data[rng.IntN(len(data))] ^= byte(1 + rng.IntN(255))
			}
			what = "mutated bytes"
		}
		name := fmt.Sprintf("input %d (%s)", i, what)
		if err := exercise(t, base, name, data); err == nil && !bytes.Equal(data, orig) {
			t.Errorf("%s: a damaged file restored without error", name)
		}
	}
}

// TestHugeFrameSizeIsRejectedCheaply: a page frame whose size field claims
// 4 GiB in a file of a few hundred bytes is corrupt; restoring it must not
// allocate what the field claims.
func TestHugeFrameSizeIsRejectedCheaply(t *testing.T) {
	good := encodeLTX(t, 1, 4096, 1).data
	data := append([]byte(nil), good[:ltx.HeaderSize]...)
	frame := make([]byte, ltx.PageHeaderSize+4)
	binary.BigEndian.PutUint32(frame[0:], 1)                      // page 1
	binary.BigEndian.PutUint16(frame[4:], ltx.PageHeaderFlagSize) // block format: a size follows
	binary.BigEndian.PutUint32(frame[ltx.PageHeaderSize:], 0xfffffff0)
	data = append(append(data, frame...), make([]byte, 200)...)

	var before, after runtime.MemStats
	runtime.ReadMemStats(&before)
	err := exercise(t, t.TempDir(), "frame claiming 4 GiB", data)
	runtime.ReadMemStats(&after)
	var ce *replica.CorruptError
	if !errors.As(err, &ce) {
		t.Errorf("Restore: %v, want a *replica.CorruptError", err)
	}
	if n := after.TotalAlloc - before.TotalAlloc; n > 64<<20 {
		t.Errorf("reading a %d-byte file allocated %d MiB", len(data), n>>20)
	}
}

// TestCorruptLargeFileIsNotRetried: a file too large to prefetch is
// streamed; when it is corrupt (here: truncated, the listing agreeing with
// the storage about its size), it is reported at once, not downloaded again
// as if the stream had broken.
func TestCorruptLargeFileIsNotRetried(t *testing.T) {
	big := encodeLTX(t, 3, 65536, 400) // about 26 MB: streamed, not prefetched
	dir := t.TempDir()
	put(t, dir, big.info, big.data[:len(big.data)*3/4])
	st := &countingStore{Backend: openDir(t, dir).Store}
	r := replica.New(st)
	r.Retry = fastRetry
	files := listAll(t, r)
	_, err := restoreFile(t, r, replica.Plan{Files: files, TXID: 1})
	var ce *replica.CorruptError
	if !errors.As(err, &ce) {
		t.Fatalf("Restore: %v, want a *replica.CorruptError", err)
	}
	if n := st.reads.Load(); n != 1 {
		t.Errorf("the corrupt file was read %d times, want once", n)
	}
}

// FuzzLTXFile is the same as a fuzz target: `go test -fuzz FuzzLTXFile
// ./replica` explores further; plain `go test` runs the seeds.
func FuzzLTXFile(f *testing.F) {
	snapshot, err := os.ReadFile(fixtureFile(fixture.ReplicaDir(f), 9, 1))
	if err != nil {
		f.Fatal(err)
	}
	f.Add(snapshot)
	f.Add(snapshot[:len(snapshot)/2])
	f.Add(snapshot[:ltx.HeaderSize])
	f.Add([]byte{})
	f.Fuzz(func(t *testing.T, data []byte) {
		exercise(t, t.TempDir(), "fuzz input", data)
	})
}
