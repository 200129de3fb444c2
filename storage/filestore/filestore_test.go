package filestore_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/storage/storagetest"
	"github.com/superfly/ltx"
)

func newStore(t *testing.T) *filestore.Store {
	t.Helper()
	s, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	return s
}

func info(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

func write(t *testing.T, s *filestore.Store, f storage.FileInfo, data string) {
	t.Helper()
	if err := s.Write(context.Background(), f, time.Time{}, strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func names(files []storage.FileInfo) []string {
	out := make([]string, len(files))
	for i, f := range files {
		out[i] = f.String()
	}
	return out
}

// levelDir is where the file layout keeps a level: <dir>/ltx/<level>.
func levelDir(s *filestore.Store, level int) string {
	return filepath.Join(s.Dir(), "ltx", strconv.Itoa(level))
}

func TestListOrderAndFrom(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	for _, f := range []storage.FileInfo{info(1, 9, 12), info(1, 1, 4), info(1, 5, 8), info(1, 5, 6), info(0, 3, 3)} {
		write(t, s, f, "x")
	}
	tests := []struct {
		level int
		from  ltx.TXID
		want  string
	}{
		{1, 0, "L1/0000000000000001-0000000000000004.ltx L1/0000000000000005-0000000000000006.ltx L1/0000000000000005-0000000000000008.ltx L1/0000000000000009-000000000000000c.ltx"},
		{1, 5, "L1/0000000000000005-0000000000000006.ltx L1/0000000000000005-0000000000000008.ltx L1/0000000000000009-000000000000000c.ltx"},
		{1, 6, "L1/0000000000000009-000000000000000c.ltx"},
		{1, 13, ""},
		{0, 0, "L0/0000000000000003-0000000000000003.ltx"},
		{2, 0, ""}, // a level that was never written
	}
	for _, tt := range tests {
		files, err := s.List(ctx, tt.level, tt.from)
		if err != nil {
			t.Fatal(err)
		}
		if got := strings.Join(names(files), " "); got != tt.want {
			t.Errorf("List(%d, from %d) = %q, want %q", tt.level, tt.from, got, tt.want)
		}
		for _, f := range files {
			if f.Size != 1 || f.ModTime.IsZero() {
				t.Errorf("%s: size %d, mod time %v; want 1 byte and a time", f, f.Size, f.ModTime)
			}
		}
	}
}

func TestListIgnoresOtherNames(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	write(t, s, info(0, 1, 1), "keep")
	dir := levelDir(s, 0)
	for _, name := range []string{
		"README",
		".0000000000000002-0000000000000002.ltx.tmp-123456", // an interrupted write
		"0000000000000003-0000000000000003.ltx.tmp",
		"0000000000000004-0000000000000004.ltx~",
		"000000000000000A-000000000000000A.ltx", // upper-case hex is not the layout
		"1-1.ltx",
		"0000000000000005-0000000000000005.LTX",
	} {
		if err := os.WriteFile(filepath.Join(dir, name), []byte("junk"), 0o644); err != nil {
			t.Fatal(err)
		}
	}
	if err := os.Mkdir(filepath.Join(dir, "0000000000000006-0000000000000006.ltx"), 0o755); err != nil {
		t.Fatal(err)
	}
	files, err := s.List(ctx, 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	if got := strings.Join(names(files), " "); got != "L0/0000000000000001-0000000000000001.ltx" {
		t.Errorf("List = %q, want only the LTX file", got)
	}
}

// A replica directory that does not exist (a typo, a database path) is
// not an empty replica: List and ListAll say so, naming the directory.
// Writing creates it.
func TestListMissingDirectory(t *testing.T) {
	ctx := context.Background()
	dir := filepath.Join(t.TempDir(), "not", "yet")
	s, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	if files, err := s.List(ctx, 0, 0); !errors.Is(err, storage.ErrNoReplica) || errors.Is(err, storage.ErrNotFound) || !strings.Contains(fmt.Sprint(err), dir) {
		t.Fatalf("List of a missing directory = %v, %v; want ErrNoReplica (not ErrNotFound) naming %s", files, err, dir)
	}
	if _, err := s.ListAll(ctx); !errors.Is(err, storage.ErrNoReplica) {
		t.Fatalf("ListAll of a missing directory: %v, want ErrNoReplica", err)
	}
	write(t, s, info(0, 1, 1), "x")
	if files, err := s.List(ctx, 3, 0); err != nil || len(files) != 0 {
		t.Errorf("List of an empty level of an existing replica = %v, %v; want nothing, no error", files, err)
	}

	db := filepath.Join(t.TempDir(), "shop.db")
	if err := os.WriteFile(db, []byte("SQLite format 3\x00"), 0o644); err != nil {
		t.Fatal(err)
	}
	s, _ = filestore.New(db)
	if _, err := s.List(ctx, 0, 0); !errors.Is(err, storage.ErrNoReplica) || !strings.Contains(err.Error(), "is a file") {
		t.Errorf("List of a database file: %v, want ErrNoReplica saying it is a file", err)
	}
}

func TestReadRange(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	f := info(0, 1, 1)
	write(t, s, f, "0123456789")
	tests := []struct {
		off, length int64
		want        string
	}{
		{0, 10, "0123456789"},
		{3, 4, "3456"},
		{7, -1, "789"},
		{0, -1, "0123456789"},
		{10, 0, ""},
	}
	for _, tt := range tests {
		rc, err := s.ReadRange(ctx, f, tt.off, tt.length)
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || string(b) != tt.want {
			t.Errorf("ReadRange(%d, %d) = %q, %v; want %q", tt.off, tt.length, b, err, tt.want)
		}
	}
}

func TestReadRangeMissing(t *testing.T) {
	s := newStore(t)
	f := info(3, 5, 9)
	_, err := s.ReadRange(context.Background(), f, 0, 10)
	if !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("ReadRange of a missing file: %v, want storage.ErrNotFound", err)
	}
	if !strings.Contains(err.Error(), filepath.Join(s.Dir(), "ltx", "3", f.Name())) {
		t.Errorf("error %q does not name the missing path", err)
	}
}

// TestWriteIsAtomic: while a write is in progress the file is not listed
// and not readable; afterwards it is whole, and no temporary file is left.
func TestWriteIsAtomic(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	f := info(0, 2, 2)
	pr, pw := io.Pipe()
	done := make(chan error, 1)
	ts := time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)
	go func() { done <- s.Write(ctx, f, ts, pr) }()

	// The first half is consumed by the writer before Write returns...
	if _, err := pw.Write([]byte("first half,")); err != nil {
		t.Fatal(err)
	}
	// ...but nobody sees it.
	if files, err := s.List(ctx, 0, 0); err != nil || len(files) != 0 {
		t.Fatalf("during the write List = %v, %v; want nothing", names(files), err)
	}
	if _, err := s.ReadRange(ctx, f, 0, -1); !errors.Is(err, storage.ErrNotFound) {
		t.Fatalf("during the write ReadRange: %v, want ErrNotFound", err)
	}
	if _, err := pw.Write([]byte(" second half")); err != nil {
		t.Fatal(err)
	}
	pw.Close()
	if err := <-done; err != nil {
		t.Fatal(err)
	}

	rc, err := s.ReadRange(ctx, f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "first half, second half" {
		t.Errorf("file holds %q", b)
	}
	files, err := s.List(ctx, 0, 0)
	if err != nil || len(files) != 1 || !files[0].ModTime.Equal(ts) {
		t.Errorf("after the write List = %v, %v; want the file with the LTX timestamp as its mod time", files, err)
	}
	assertOnly(t, levelDir(s, 0), f.Name())
}

// TestWriteFailureLeavesNothing: a source that fails midway leaves neither
// the file nor a temporary file, and an existing file is not replaced.
func TestWriteFailureLeavesNothing(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	keep := info(0, 1, 1)
	write(t, s, keep, "old")
	boom := errors.New("upload source broke")
	for _, f := range []storage.FileInfo{info(0, 2, 2), keep} {
		err := s.Write(ctx, f, time.Time{}, io.MultiReader(strings.NewReader("partial"), errReader{boom}))
		if !errors.Is(err, boom) {
			t.Fatalf("Write = %v, want the source's error", err)
		}
	}
	assertOnly(t, levelDir(s, 0), keep.Name())
	rc, err := s.ReadRange(ctx, keep, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := io.ReadAll(rc)
	rc.Close()
	if string(b) != "old" {
		t.Errorf("a failed overwrite changed the file to %q", b)
	}
}

type errReader struct{ err error }

func (r errReader) Read([]byte) (int, error) { return 0, r.err }

// assertOnly checks that dir holds exactly the named entries.
func assertOnly(t *testing.T, dir string, want ...string) {
	t.Helper()
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, e := range entries {
		got = append(got, e.Name())
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Errorf("%s holds %v, want %v (no temporary files)", dir, got, want)
	}
}

func TestWriteOverwrites(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	f := info(9, 1, 5)
	write(t, s, f, "first")
	write(t, s, f, "second version")
	rc, err := s.ReadRange(ctx, f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if b, _ := io.ReadAll(rc); !bytes.Equal(b, []byte("second version")) {
		t.Errorf("file holds %q", b)
	}
}

func TestDelete(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	a, b := info(0, 1, 1), info(0, 2, 2)
	write(t, s, a, "a")
	write(t, s, b, "b")
	if err := s.Delete(ctx, []storage.FileInfo{a, info(0, 7, 7), info(4, 1, 9)}); err != nil {
		t.Fatalf("Delete with files already gone: %v", err)
	}
	if err := s.Delete(ctx, nil); err != nil {
		t.Fatalf("Delete of nothing: %v", err)
	}
	files, err := s.List(ctx, 0, 0)
	if err != nil || len(files) != 1 || files[0].Key() != b.Key() {
		t.Fatalf("after Delete List = %v, %v; want only %s", names(files), err, b)
	}
}

func TestNewAndString(t *testing.T) {
	t.Chdir(t.TempDir())
	s, err := filestore.New("rel/replica")
	if err != nil {
		t.Fatal(err)
	}
	wd, _ := os.Getwd()
	if want := filepath.Join(wd, "rel", "replica"); s.Dir() != want {
		t.Errorf("Dir() = %q, want the absolute %q", s.Dir(), want)
	}
	if want := "file://" + filepath.ToSlash(filepath.Join(wd, "rel", "replica")); s.String() != want {
		t.Errorf("String() = %q, want %q", s.String(), want)
	}
	if _, err := os.Stat(s.Dir()); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("New created the directory before any write")
	}
}

func TestContract(t *testing.T) {
	open := func(t *testing.T) *filestore.Store {
		s, err := filestore.New(filepath.Join(t.TempDir(), "replica"))
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) (storage.Backend, storage.Backend) {
			s := open(t)
			if err := os.Mkdir(s.Dir(), 0o755); err != nil { // an empty replica
				t.Fatal(err)
			}
			return s, s
		},
		Open: func(t *testing.T) storage.Backend { return open(t) },
	})
}

// WriteNew leaves no temporary file behind.
func TestWriteNewLeavesNoTempFiles(t *testing.T) {
	s := newStore(t)
	storagetest.ExclusiveWrites(t, s, s)
	for _, level := range []int{0, 9} {
		entries, err := os.ReadDir(levelDir(s, level))
		if err != nil {
			t.Fatal(err)
		}
		for _, e := range entries {
			if strings.Contains(e.Name(), ".tmp-") {
				t.Errorf("temp file %s left behind", e.Name())
			}
		}
	}
}

// Files and folders are created with the modes the umask leaves (as
// Litestream's and sqlite3's are), not 0600.
func TestWriteFollowsUmask(t *testing.T) {
	old := syscall.Umask(0o022)
	defer syscall.Umask(old)
	s := newStore(t)
	write(t, s, info(0, 1, 1), "x")
	if err := s.WriteMeta(context.Background(), "strata-test.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for path, want := range map[string]os.FileMode{
		filepath.Join(levelDir(s, 0), info(0, 1, 1).Name()): 0o644,
		levelDir(s, 0): 0o755 | os.ModeDir,
		filepath.Join(s.Dir(), "strata-test.json"): 0o644,
	} {
		fi, err := os.Stat(path)
		if err != nil {
			t.Fatal(err)
		}
		if fi.Mode() != want {
			t.Errorf("%s has mode %v, want %v", path, fi.Mode(), want)
		}
	}
}

// A metadata object's token changes with every write, even two writes of
// the same size within one clock tick, and an unchanged object is not
// read again.
func TestMetaTokenChangesOnEveryWrite(t *testing.T) {
	ctx := context.Background()
	s := newStore(t)
	seen := map[string]bool{}
	tag := ""
	for i := range 20 {
		if err := s.WriteMeta(ctx, "strata-head.json", []byte(fmt.Sprintf(`{"n":%02d}`, i))); err != nil {
			t.Fatal(err)
		}
		data, newTag, err := s.ReadMeta(ctx, "strata-head.json", tag)
		if err != nil || string(data) != fmt.Sprintf(`{"n":%02d}`, i) || seen[newTag] {
			t.Fatalf("write %d: ReadMeta = %q, %q, %v; want the new content and a token never seen", i, data, newTag, err)
		}
		seen[newTag], tag = true, newTag
	}
}
