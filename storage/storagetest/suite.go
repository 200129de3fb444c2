// Package storagetest is the contract every storage backend must keep,
// written once and run by each backend's tests against a real server
// (a directory, versitygw, fake-gcs-server, Azurite, a web server).
package storagetest

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"runtime"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Harness gives the suite replicas of one backend.
type Harness struct {
	// New returns a new, empty replica: b is the backend under test, w
	// writes into the same replica (b itself, except for a read-only
	// backend, whose w writes what b serves). Both are closed by the
	// harness when the test ends.
	New func(t *testing.T) (b, w storage.Backend)
	// Open opens a new handle on a replica the way a user does (from a
	// URL), for the check that Close gives back every connection and
	// goroutine. The caller closes it.
	Open func(t *testing.T) storage.Backend
	// ReadOnly says b refuses every write with storage.ErrReadOnly.
	ReadOnly bool
	// Settle is how long a metadata object must stay unchanged before b
	// gives a token for it (a second for web servers, whose validators
	// may be dates; see httpstore).
	Settle time.Duration
}

// Run runs the whole contract against h.
func Run(t *testing.T, h Harness) {
	// First, while no other store of the backend holds the shared
	// connection pool open.
	t.Run("CloseReleasesEverything", func(t *testing.T) { testClose(t, h) })
	t.Run("ListOrderAndFrom", func(t *testing.T) { testListOrderAndFrom(t, h) })
	t.Run("ListAll", func(t *testing.T) { testListAll(t, h) })
	t.Run("ReadRange", func(t *testing.T) { testReadRange(t, h) })
	t.Run("ReadMissing", func(t *testing.T) { testReadMissing(t, h) })
	t.Run("LargeFile", func(t *testing.T) { testLargeFile(t, h) })
	t.Run("Meta", func(t *testing.T) { testMeta(t, h) })
	if h.ReadOnly {
		t.Run("RefusesWrites", func(t *testing.T) { testRefusesWrites(t, h) })
	} else {
		t.Run("WriteIsAtomic", func(t *testing.T) { testWriteIsAtomic(t, h) })
		t.Run("WriteReplaces", func(t *testing.T) { testWriteReplaces(t, h) })
		t.Run("WriteNew", func(t *testing.T) {
			b, _ := h.New(t)
			ew, ok := b.(storage.ExclusiveWriter)
			if !ok {
				t.Fatalf("%T does not implement storage.ExclusiveWriter", b)
			}
			ExclusiveWrites(t, ew, b)
		})
		t.Run("DeleteIsIdempotent", func(t *testing.T) { testDelete(t, h) })
	}
}

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

func put(t *testing.T, w storage.Backend, f storage.FileInfo, data string) {
	t.Helper()
	if err := w.Write(context.Background(), f, time.Now(), strings.NewReader(data)); err != nil {
		t.Fatalf("write %s: %v", f, err)
	}
}

func names(files []storage.FileInfo) string {
	s := make([]string, len(files))
	for i, f := range files {
		s[i] = f.String()
	}
	return strings.Join(s, " ")
}

func list(t *testing.T, b storage.Backend, level int, from ltx.TXID) []storage.FileInfo {
	t.Helper()
	files, err := b.List(context.Background(), level, from)
	if err != nil {
		t.Fatalf("List(%d, from %d): %v", level, from, err)
	}
	return files
}

// List returns a level's files ordered by (MinTXID, MaxTXID), only those
// with MinTXID >= from, with their sizes and a modification time.
func testListOrderAndFrom(t *testing.T, h Harness) {
	b, w := h.New(t)
	start := time.Now().Add(-time.Hour)
	for _, f := range []storage.FileInfo{fi(1, 9, 12), fi(1, 1, 4), fi(1, 5, 8), fi(1, 5, 6), fi(1, 0x100, 0x1ff), fi(0, 3, 3)} {
		put(t, w, f, strings.Repeat("x", int(f.MaxTXID)))
	}
	for _, tt := range []struct {
		level int
		from  ltx.TXID
		want  string
	}{
		{1, 0, "L1/0000000000000001-0000000000000004.ltx L1/0000000000000005-0000000000000006.ltx L1/0000000000000005-0000000000000008.ltx L1/0000000000000009-000000000000000c.ltx L1/0000000000000100-00000000000001ff.ltx"},
		{1, 1, "L1/0000000000000001-0000000000000004.ltx L1/0000000000000005-0000000000000006.ltx L1/0000000000000005-0000000000000008.ltx L1/0000000000000009-000000000000000c.ltx L1/0000000000000100-00000000000001ff.ltx"},
		{1, 5, "L1/0000000000000005-0000000000000006.ltx L1/0000000000000005-0000000000000008.ltx L1/0000000000000009-000000000000000c.ltx L1/0000000000000100-00000000000001ff.ltx"},
		{1, 6, "L1/0000000000000009-000000000000000c.ltx L1/0000000000000100-00000000000001ff.ltx"},
		{1, 0x10, "L1/0000000000000100-00000000000001ff.ltx"},
		{1, 0x101, ""},
		{0, 0, "L0/0000000000000003-0000000000000003.ltx"},
		{2, 0, ""}, // a level never written
	} {
		files := list(t, b, tt.level, tt.from)
		if got := names(files); got != tt.want {
			t.Errorf("List(%d, from %d) = %q\nwant %q", tt.level, tt.from, got, tt.want)
		}
		for _, f := range files {
			if f.Level != tt.level || f.Size != int64(f.MaxTXID) || f.ModTime.Before(start) {
				t.Errorf("List(%d) gave %s with level %d, size %d, time %v; want level %d, size %d, a recent time",
					tt.level, f, f.Level, f.Size, f.ModTime, tt.level, f.MaxTXID)
			}
		}
	}
}

// ListAll (where a backend has it) returns what List returns, level by
// level; a backend without files returns none, without error.
func testListAll(t *testing.T, h Harness) {
	b, w := h.New(t)
	al, ok := b.(storage.AllLister)
	if !ok {
		t.Skipf("%T lists level by level (no storage.AllLister)", b)
	}
	if files, err := al.ListAll(context.Background()); err != nil || len(files) != 0 {
		t.Fatalf("ListAll of an empty replica = %s, %v; want nothing", names(files), err)
	}
	for _, f := range []storage.FileInfo{fi(9, 1, 20), fi(0, 21, 21), fi(0, 22, 22), fi(1, 1, 20), fi(2, 1, 10), fi(8, 11, 20)} {
		put(t, w, f, "data")
	}
	all, err := al.ListAll(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var want []storage.FileInfo
	for level := 0; level <= storage.MaxLevel; level++ {
		want = append(want, list(t, b, level, 0)...)
	}
	byLevel := func(files []storage.FileInfo) string {
		s := map[int][]storage.FileInfo{}
		for _, f := range files {
			s[f.Level] = append(s[f.Level], f)
		}
		var out []string
		for level := 0; level <= storage.MaxLevel; level++ {
			out = append(out, names(s[level]))
		}
		return strings.Join(out, " | ")
	}
	if got, want := byLevel(all), byLevel(want); got != want || len(all) != 6 {
		t.Errorf("ListAll = %s\nList by level = %s", got, want)
	}
}

// ReadRange reads exactly the bytes asked for: a middle, a tail, the whole
// file, from an offset to the end, the last byte, nothing.
func testReadRange(t *testing.T, h Harness) {
	b, w := h.New(t)
	f := fi(0, 1, 1)
	put(t, w, f, "0123456789")
	for _, tt := range []struct {
		off, length int64
		want        string
	}{
		{0, 10, "0123456789"},
		{3, 4, "3456"},
		{7, -1, "789"},
		{0, -1, "0123456789"},
		{9, 1, "9"},
		{9, -1, "9"},
		{5, 0, ""},
	} {
		if got := read(t, b, f, tt.off, tt.length); got != tt.want {
			t.Errorf("ReadRange(%d, %d) = %q, want %q", tt.off, tt.length, got, tt.want)
		}
	}
}

// A missing file is ErrNotFound, permanent, and the error names it.
func testReadMissing(t *testing.T, h Harness) {
	b, w := h.New(t)
	put(t, w, fi(0, 1, 1), "x") // the replica exists; the file does not
	f := fi(3, 5, 9)
	_, err := b.ReadRange(context.Background(), f, 0, 10)
	if !errors.Is(err, storage.ErrNotFound) || storage.IsTransient(err) {
		t.Fatalf("ReadRange of a missing file: %v; want ErrNotFound, not transient", err)
	}
	if !strings.Contains(err.Error(), f.Name()) {
		t.Errorf("error %q does not name %s", err, f.Name())
	}
}

// A file larger than any one upload part is streamed in and read back
// whole and by range.
func testLargeFile(t *testing.T, h Harness) {
	if testing.Short() {
		t.Skip("writes 9 MiB")
	}
	b, w := h.New(t)
	const size = 9<<20 + 12345
	f := fi(9, 1, 100)
	if err := w.Write(context.Background(), f, time.Now(), randReader(size)); err != nil {
		t.Fatal(err)
	}
	files := list(t, b, 9, 0)
	if len(files) != 1 || files[0].Size != size {
		t.Fatalf("List after a large write = %+v, want one file of %d bytes", files, size)
	}
	rc, err := b.ReadRange(context.Background(), f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	got, want := sha256.New(), sha256.New()
	_, err = io.Copy(got, rc)
	rc.Close()
	if err != nil {
		t.Fatal(err)
	}
	io.Copy(want, randReader(size))
	if !bytes.Equal(got.Sum(nil), want.Sum(nil)) {
		t.Error("content read back differs from content written")
	}
	all, _ := io.ReadAll(randReader(size))
	if tail := read(t, b, f, size-10, 10); tail != string(all[size-10:]) {
		t.Error("range read at the end of a large file is wrong")
	}
	if mid := read(t, b, f, 8<<20-5, 10); mid != string(all[8<<20-5:8<<20+5]) {
		t.Error("range read across a part boundary is wrong")
	}
}

// Metadata objects: missing is ErrNotFound; a read returns a token; a
// read with the current token is ErrNotModified; a new version is read
// whole with a new token; they never show up as LTX files; bad names are
// refused.
func testMeta(t *testing.T, h Harness) {
	ctx := context.Background()
	b, w := h.New(t)
	ms, ok := b.(storage.MetaStore)
	if !ok {
		t.Fatalf("%T does not implement storage.MetaStore", b)
	}
	wms := w.(storage.MetaStore)
	put(t, w, fi(0, 1, 1), "x")
	const name = "strata-test.json"
	if _, _, err := ms.ReadMeta(ctx, name, ""); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ReadMeta of a missing object: %v, want ErrNotFound", err)
	}
	if err := wms.WriteMeta(ctx, name, []byte(`{"v":1}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(h.Settle)
	data, tag, err := ms.ReadMeta(ctx, name, "")
	if err != nil || string(data) != `{"v":1}` || tag == "" {
		t.Fatalf("ReadMeta = %q, %q, %v; want the content and a token", data, tag, err)
	}
	data, tag2, err := ms.ReadMeta(ctx, name, tag)
	if !errors.Is(err, storage.ErrNotModified) || len(data) != 0 {
		t.Fatalf("ReadMeta with the current token = %q, %q, %v; want ErrNotModified and no data", data, tag2, err)
	}
	if err := wms.WriteMeta(ctx, name, []byte(`{"v":2,"more":true}`)); err != nil {
		t.Fatal(err)
	}
	time.Sleep(h.Settle)
	data, tag3, err := ms.ReadMeta(ctx, name, tag)
	if err != nil || string(data) != `{"v":2,"more":true}` || tag3 == tag {
		t.Fatalf("ReadMeta with an old token after a change = %q, %q, %v; want the new content and a new token (old %q)", data, tag3, err, tag)
	}
	if files := list(t, b, 0, 0); len(files) != 1 {
		t.Errorf("a metadata object shows up in List: %s", names(files))
	}
	if al, ok := b.(storage.AllLister); ok {
		if files, err := al.ListAll(ctx); err != nil || len(files) != 1 {
			t.Errorf("ListAll with a metadata object = %s, %v; want only the LTX file", names(files), err)
		}
	}
	for _, bad := range []string{"ltx", "0000", "a/b.json", "../x.json", "", "UPPER.json", ".hidden.json"} {
		if _, _, err := ms.ReadMeta(ctx, bad, ""); err == nil || errors.Is(err, storage.ErrNotFound) {
			t.Errorf("ReadMeta(%q): %v, want the name refused", bad, err)
		}
		if err := wms.WriteMeta(ctx, bad, []byte("x")); err == nil {
			t.Errorf("WriteMeta(%q) accepted the name", bad)
		}
	}
}

// While a write is in progress nothing of it is visible; a write whose
// source fails leaves nothing, and does not replace an existing file.
func testWriteIsAtomic(t *testing.T, h Harness) {
	ctx := context.Background()
	b, _ := h.New(t)
	f := fi(0, 2, 2)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	go func() { done <- b.Write(ctx, f, time.Now(), pr) }()
	if _, err := pw.Write([]byte("first half,")); err != nil {
		t.Fatal(err)
	}
	if files := list(t, b, 0, 0); len(files) != 0 {
		t.Fatalf("during the write List = %s; want nothing", names(files))
	}
	if _, err := b.ReadRange(ctx, f, 0, -1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("during the write ReadRange: %v, want ErrNotFound", err)
	}
	pw.Write([]byte(" second half"))
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if got := read(t, b, f, 0, -1); got != "first half, second half" {
		t.Errorf("file holds %q", got)
	}

	boom := errors.New("upload source broke")
	keep := f
	for _, g := range []storage.FileInfo{fi(0, 3, 3), keep} {
		src := io.MultiReader(strings.NewReader("partial"), errReader{boom})
		if err := b.Write(ctx, g, time.Now(), src); !errors.Is(err, boom) {
			t.Fatalf("Write of %s with a failing source = %v, want the source's error", g, err)
		}
	}
	if got := names(list(t, b, 0, 0)); got != keep.String() {
		t.Errorf("after failed writes List = %s, want only %s", got, keep)
	}
	if got := read(t, b, keep, 0, -1); got != "first half, second half" {
		t.Errorf("a failed overwrite changed the file to %q", got)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// Write replaces an existing file whole.
func testWriteReplaces(t *testing.T, h Harness) {
	b, _ := h.New(t)
	f := fi(9, 1, 5)
	put(t, b, f, "first, and longer")
	put(t, b, f, "second")
	if got := read(t, b, f, 0, -1); got != "second" {
		t.Errorf("file holds %q, want %q", got, "second")
	}
	if files := list(t, b, 9, 0); len(files) != 1 || files[0].Size != int64(len("second")) {
		t.Errorf("List = %+v, want one file of %d bytes", files, len("second"))
	}
}

// Delete removes files; files already gone, and nothing at all, are not
// errors.
func testDelete(t *testing.T, h Harness) {
	ctx := context.Background()
	b, _ := h.New(t)
	a, c := fi(0, 1, 1), fi(0, 2, 2)
	put(t, b, a, "a")
	put(t, b, c, "c")
	if err := b.Delete(ctx, []storage.FileInfo{a, fi(0, 7, 7), fi(4, 1, 9)}); err != nil {
		t.Fatalf("Delete with files that never existed: %v", err)
	}
	if err := b.Delete(ctx, []storage.FileInfo{a}); err != nil {
		t.Fatalf("Delete of a file already deleted: %v", err)
	}
	if err := b.Delete(ctx, nil); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
	if got := names(list(t, b, 0, 0)); got != c.String() {
		t.Errorf("after Delete List = %s, want only %s", got, c)
	}
	if _, err := b.ReadRange(ctx, a, 0, 1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("ReadRange of a deleted file: %v, want ErrNotFound", err)
	}
}

// A read-only backend refuses every write with ErrReadOnly.
func testRefusesWrites(t *testing.T, h Harness) {
	ctx := context.Background()
	b, _ := h.New(t)
	f := fi(0, 1, 1)
	errs := map[string]error{
		"Write":  b.Write(ctx, f, time.Now(), strings.NewReader("x")),
		"Delete": b.Delete(ctx, []storage.FileInfo{f}),
	}
	if ew, ok := b.(storage.ExclusiveWriter); ok {
		errs["WriteNew"] = ew.WriteNew(ctx, f, time.Now(), strings.NewReader("x"))
	}
	if ms, ok := b.(storage.MetaStore); ok {
		errs["WriteMeta"] = ms.WriteMeta(ctx, "strata-test.json", []byte("x"))
	}
	for op, err := range errs {
		if !errors.Is(err, storage.ErrReadOnly) || storage.IsTransient(err) {
			t.Errorf("%s on a read-only replica: %v, want ErrReadOnly", op, err)
		}
	}
}

// Ten open/list/close cycles leave no goroutines (idle connections hold
// two each) behind, and closing twice is harmless. The test process must
// hold no other store of the backend open.
func testClose(t *testing.T, h Harness) {
	ctx := context.Background()
	cycle := func() {
		b := h.Open(t)
		if _, err := b.List(ctx, 0, 0); err != nil && !errors.Is(err, storage.ErrNoReplica) {
			t.Fatalf("List: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Fatalf("second Close: %v", err)
		}
	}
	before := runtime.NumGoroutine()
	for range 10 {
		cycle()
	}
	deadline := time.Now().Add(10 * time.Second)
	for runtime.NumGoroutine() > before {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<20)
			t.Fatalf("%d goroutines after 10 open/list/close cycles, %d before:\n%s",
				runtime.NumGoroutine(), before, buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// ExclusiveWrites checks WriteNew: it creates a missing file, refuses an
// existing one with ErrExists (leaving it unchanged), and of several
// concurrent creators of one name exactly one wins.
func ExclusiveWrites(t *testing.T, st storage.ExclusiveWriter, b storage.Backend) {
	ctx := context.Background()
	f := storage.FileInfo{Level: 9, MinTXID: 1, MaxTXID: 1}
	if err := st.WriteNew(ctx, f, time.Now(), strings.NewReader("first")); err != nil {
		t.Fatalf("WriteNew of a new file: %v", err)
	}
	err := st.WriteNew(ctx, f, time.Now(), strings.NewReader("second"))
	if !errors.Is(err, storage.ErrExists) || storage.IsTransient(err) {
		t.Fatalf("WriteNew over an existing file: %v, want ErrExists", err)
	}
	if got := read(t, b, f, 0, -1); got != "first" {
		t.Errorf("after a refused WriteNew the file holds %q, want %q", got, "first")
	}

	g := storage.FileInfo{Level: 0, MinTXID: 2, MaxTXID: 2}
	const writers = 8
	var wg sync.WaitGroup
	start := make(chan struct{})
	errs := make([]error, writers)
	for i := range writers {
		wg.Go(func() {
			<-start
			errs[i] = st.WriteNew(ctx, g, time.Now(), strings.NewReader(fmt.Sprintf("writer %d", i)))
		})
	}
	close(start)
	wg.Wait()
	winner := -1
	for i, err := range errs {
		switch {
		case err == nil && winner >= 0:
			t.Errorf("writers %d and %d both succeeded", winner, i)
		case err == nil:
			winner = i
		case !errors.Is(err, storage.ErrExists):
			t.Errorf("a losing WriteNew: %v, want ErrExists", err)
		}
	}
	if winner < 0 {
		t.Fatalf("none of %d concurrent WriteNew calls succeeded", writers)
	}
	if got, want := read(t, b, g, 0, -1), fmt.Sprintf("writer %d", winner); got != want {
		t.Errorf("the file holds %q, want the winner's %q", got, want)
	}
	files, err := b.List(ctx, 0, 0)
	if err != nil || len(files) != 1 {
		t.Errorf("level 0 after the race: %v, %v; want the one file", names(files), err)
	}
}

func read(t *testing.T, b storage.Backend, f storage.FileInfo, off, length int64) string {
	t.Helper()
	rc, err := b.ReadRange(context.Background(), f, off, length)
	if err != nil {
		t.Fatalf("ReadRange(%s, %d, %d): %v", f, off, length, err)
	}
	defer rc.Close()
	data, err := io.ReadAll(rc)
	if err != nil {
		t.Fatalf("ReadRange(%s, %d, %d): read: %v", f, off, length, err)
	}
	return string(data)
}

// randReader yields n deterministic pseudo-random bytes without holding
// them in memory.
func randReader(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{1}), n)
}

// Published returns w with the manifest (storage.WriteManifest) written
// again after every change of its files, as a publisher keeps a static
// replica current: the writer of a read-only http harness.
func Published(t testing.TB, w storage.Backend) storage.Backend {
	return storage.Observe(w, func(r storage.Request) {
		switch r.Op {
		case storage.OpWrite, storage.OpWriteNew, storage.OpDelete:
			if r.Err == nil {
				if _, err := storage.WriteManifest(context.Background(), w); err != nil {
					t.Errorf("publish after %s %s: %v", r.Op, r.Target, err)
				}
			}
		}
	})
}
