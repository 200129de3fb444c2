package replica_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"os"
	"path/filepath"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// compactReplica makes a directory replica whose level 0 holds a history
// with every kind of change: a table that grows, rows updated in place,
// deletes, and a VACUUM that makes the database smaller. It returns the
// replica and its writer; TXID 1 is a complete file.
func compactReplica(t testing.TB) (*replica.Replica, *ltxtest.Writer) {
	t.Helper()
	dir := t.TempDir()
	st, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, st, filepath.Join(dir, "local.db"))
	w.Exec(`create table t(id integer primary key, v text)`)
	for i := range 6 {
		w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 80)
			insert into t(v) select hex(randomblob(100)) || ? from n`, i)
	}
	w.Exec(`update t set v = 'updated' where id % 5 = 0`)
	w.Exec(`delete from t where id > 200`)
	w.Exec(`vacuum`) // the database shrinks: pages past the new end must go
	w.Exec(`insert into t(v) values ('last')`)
	r := replica.New(st)
	r.Retry = fastRetry
	return r, w
}

func level0(t testing.TB, r *replica.Replica) []storage.FileInfo {
	t.Helper()
	files, err := r.List(context.Background(), 0, 0)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// restoreOf restores the state a plan of files reaches and returns the
// database file's bytes.
func restoreOf(t testing.TB, r *replica.Replica, files ...storage.FileInfo) []byte {
	t.Helper()
	path, err := restoreFile(t, r, replica.Plan{Files: files, TXID: files[len(files)-1].MaxTXID})
	if err != nil {
		t.Fatalf("restore %v: %v", files, err)
	}
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func readAll(t testing.TB, r *replica.Replica, f storage.FileInfo) []byte {
	t.Helper()
	b, err := r.ReadAt(context.Background(), f, 0, f.Size)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// A compacted file holds exactly the state its inputs reach: restoring it
// alone gives the same database as restoring the inputs one by one, also
// across a VACUUM that shrank the database. Its header is what Litestream
// writes for a compacted file.
func TestCompactHoldsTheStateOfItsInputs(t *testing.T) {
	r, w := compactReplica(t)
	ctx := context.Background()
	in := level0(t, r)
	out, err := r.Compact(ctx, in, 1, replica.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if out.Level != 1 || out.MinTXID != 1 || out.MaxTXID != w.TXID() || out.Size <= 0 {
		t.Fatalf("output %+v, want L1 1-%s with a size", out, w.TXID())
	}
	if got := fileAt(t, listAll(t, r), 1, 1, w.TXID()); got.Size != out.Size {
		t.Errorf("listed size %d, Compact said %d", got.Size, out.Size)
	}
	if !bytes.Equal(restoreOf(t, r, out), restoreOf(t, r, in...)) {
		t.Fatal("the compacted file restores to another database than its inputs")
	}

	hdr, err := r.ParsedHeader(ctx, out)
	if err != nil {
		t.Fatal(err)
	}
	last, err := r.ParsedHeader(ctx, in[len(in)-1])
	if err != nil {
		t.Fatal(err)
	}
	if !hdr.NoChecksum() || hdr.Timestamp != last.Timestamp || hdr.Commit != last.Commit || hdr.PreApplyChecksum != 0 {
		t.Errorf("header %+v: want the no-checksum flag, and the last input's timestamp %d and commit %d", hdr, last.Timestamp, last.Commit)
	}
	if !out.ModTime.Equal(time.UnixMilli(last.Timestamp)) {
		t.Errorf("stored with time %s, want the last input's commit time %s", out.ModTime, time.UnixMilli(last.Timestamp))
	}

	// A part of the history that starts after TXID 1 merges the same way.
	mid, err := r.Compact(ctx, in[3:8], 2, replica.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restoreOf(t, r, append(in[:3:3], mid)...), restoreOf(t, r, in[:8]...)) {
		t.Fatal("a compacted middle range restores differently from its inputs")
	}
}

// Files may overlap the one before them (two compactors that raced can
// leave such files): the newer file's pages win, as when restoring.
func TestCompactOverlappingInputs(t *testing.T) {
	r, _ := compactReplica(t)
	ctx := context.Background()
	in := level0(t, r)
	a, err := r.Compact(ctx, in[:6], 1, replica.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	b, err := r.Compact(ctx, in[3:9], 1, replica.CompactOptions{}) // overlaps a
	if err != nil {
		t.Fatal(err)
	}
	out, err := r.Compact(ctx, append([]storage.FileInfo{a, b}, in[9:]...), 2, replica.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(restoreOf(t, r, out), restoreOf(t, r, in...)) {
		t.Fatal("merging overlapping files gave another database")
	}
}

// With more inputs than MaxFanIn the merge goes through intermediate files
// and gives the very same bytes; with a tiny memory budget every input is
// streamed instead of read whole, again with the same bytes. Nothing is
// left in the temporary directory.
func TestCompactStagesAndStreamsGiveTheSameFile(t *testing.T) {
	r, _ := compactReplica(t)
	ctx := context.Background()
	in := level0(t, r)
	var want bytes.Buffer
	if _, _, err := r.Merge(ctx, in, &want, replica.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	for _, opts := range []replica.CompactOptions{
		{MaxFanIn: 2},
		{MaxFanIn: 3},
		{MemoryBudget: 1},
		{MaxFanIn: 4, MemoryBudget: 1},
	} {
		opts.TempDir = t.TempDir()
		var got bytes.Buffer
		hdr, n, err := r.Merge(ctx, in, &got, opts)
		if err != nil {
			t.Fatalf("%+v: %v", opts, err)
		}
		if !bytes.Equal(got.Bytes(), want.Bytes()) || n != int64(got.Len()) {
			t.Errorf("%+v: %d bytes (reported %d), differing from the one-stage merge (%d bytes)", opts, got.Len(), n, want.Len())
		}
		if hdr.MinTXID != 1 || hdr.MaxTXID != in[len(in)-1].MaxTXID {
			t.Errorf("%+v: header %s-%s", opts, hdr.MinTXID, hdr.MaxTXID)
		}
		if left, _ := os.ReadDir(opts.TempDir); len(left) != 0 {
			t.Errorf("%+v: %d entries left in the temporary directory", opts, len(left))
		}
	}
}

// breakingStore cuts every whole-file stream after a few hundred bytes,
// as a flaky network does.
type breakingStore struct {
	storage.Backend
	breaks atomic.Int64
}

func (s *breakingStore) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	rc, err := s.Backend.ReadRange(ctx, f, off, length)
	if err != nil || length >= 0 {
		return rc, err
	}
	return &breakAfter{rc: rc, left: 300, s: s}, nil
}

type breakAfter struct {
	rc   io.ReadCloser
	left int
	s    *breakingStore
}

func (b *breakAfter) Read(p []byte) (int, error) {
	if b.left == 0 {
		b.s.breaks.Add(1)
		return 0, storage.Transient(errors.New("connection reset (injected)"))
	}
	n, err := b.rc.Read(p[:min(len(p), b.left)])
	b.left -= n
	return n, err
}

func (b *breakAfter) Close() error { return b.rc.Close() }

// A stream that breaks is resumed where it stopped; the output is the same.
func TestCompactResumesBrokenStreams(t *testing.T) {
	r, _ := compactReplica(t)
	ctx := context.Background()
	in := level0(t, r)
	var want bytes.Buffer
	if _, _, err := r.Merge(ctx, in, &want, replica.CompactOptions{}); err != nil {
		t.Fatal(err)
	}
	bs := &breakingStore{Backend: r.Store}
	flaky := replica.New(bs)
	flaky.Retry = fastRetry
	var got bytes.Buffer
	if _, _, err := flaky.Merge(ctx, in, &got, replica.CompactOptions{MemoryBudget: 1}); err != nil {
		t.Fatal(err)
	}
	if bs.breaks.Load() == 0 {
		t.Fatal("no stream broke: the test tests nothing")
	}
	if !bytes.Equal(got.Bytes(), want.Bytes()) {
		t.Errorf("after %d broken streams the merge differs", bs.breaks.Load())
	}
}

// The output is created only if absent: a second compactor of the same
// range gets ErrExists and the file stays as the first one wrote it.
func TestCompactCreatesOnlyIfAbsent(t *testing.T) {
	r, _ := compactReplica(t)
	ctx := context.Background()
	in := level0(t, r)
	first, err := r.Compact(ctx, in[:4], 1, replica.CompactOptions{})
	if err != nil {
		t.Fatal(err)
	}
	before := readAll(t, r, first)
	_, err = r.Compact(ctx, in[1:4], 1, replica.CompactOptions{}) // another range: fine
	if err != nil {
		t.Fatal(err)
	}
	_, err = r.Compact(ctx, in[:4], 1, replica.CompactOptions{})
	if !errors.Is(err, storage.ErrExists) {
		t.Fatalf("second compaction of the same range: %v, want ErrExists", err)
	}
	if !bytes.Equal(readAll(t, r, first), before) {
		t.Error("the existing file changed")
	}
	if _, err := r.Compact(ctx, in[:4], 1, replica.CompactOptions{Overwrite: true}); err != nil {
		t.Errorf("with Overwrite: %v", err)
	}
}

// Chains that cannot be merged are refused before anything is read.
func TestCompactRefusesBadChains(t *testing.T) {
	r, _ := compactReplica(t)
	in := level0(t, r)
	for name, c := range map[string]struct {
		in    []storage.FileInfo
		level int
	}{
		"gap":                   {[]storage.FileInfo{in[0], in[2]}, 1},
		"out of order":          {[]storage.FileInfo{in[1], in[0]}, 1},
		"empty":                 {nil, 1},
		"input at output level": {in[:2], 0},
		"snapshot not from 1":   {in[2:4], storage.SnapshotLevel},
		"level 10":              {in[:2], 10},
	} {
		if _, err := r.Compact(context.Background(), c.in, c.level, replica.CompactOptions{}); err == nil {
			t.Errorf("%s: no error", name)
		}
	}
	if got := listAll(t, r); len(got) != len(in) {
		t.Errorf("refused compactions wrote files: %d files, want %d", len(got), len(in))
	}
}

// A corrupt input fails the compaction with a CorruptError that names it,
// whether its header or its pages are bad, and nothing is written.
func TestCompactNamesACorruptInput(t *testing.T) {
	for name, spoil := range map[string]func([]byte) []byte{
		"junk":           func(b []byte) []byte { return bytes.Repeat([]byte("junk"), 50) },
		"flipped page":   func(b []byte) []byte { b[ltx.HeaderSize+40] ^= 0xff; return b },
		"bad checksum":   func(b []byte) []byte { b[len(b)-1] ^= 0xff; return b },
		"truncated":      func(b []byte) []byte { return b[:len(b)-30] },
		"wrong TXIDs":    func(b []byte) []byte { b[31]++; return b },
		"huge frame":     func(b []byte) []byte { copy(b[ltx.HeaderSize+6:], []byte{0x7f, 0xff, 0xff, 0xff}); return b },
		"empty":          func(b []byte) []byte { return nil },
		"header only":    func(b []byte) []byte { return b[:ltx.HeaderSize] },
		"other pagesize": func(b []byte) []byte { b[10] = 0x20; return b },
	} {
		t.Run(name, func(t *testing.T) {
			r, _ := compactReplica(t)
			ctx := context.Background()
			in := level0(t, r)
			bad := in[4]
			st := r.Store.(*filestore.Store)
			path := filepath.Join(st.Dir(), "ltx", "0", bad.Name())
			b, err := os.ReadFile(path)
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(path, spoil(b), 0o644); err != nil {
				t.Fatal(err)
			}
			in = level0(t, r) // sizes changed
			for _, opts := range []replica.CompactOptions{{}, {MemoryBudget: 1}, {MaxFanIn: 2}} {
				_, err = r.Compact(ctx, in, 1, opts)
				var ce *replica.CorruptError
				if !errors.As(err, &ce) || ce.File.Key() != bad.Key() {
					t.Fatalf("%+v: error %v, want a CorruptError naming %s", opts, err, bad)
				}
			}
			if files, _ := r.List(ctx, 1, 0); len(files) != 0 {
				t.Errorf("a failed compaction left %v", files)
			}
		})
	}
}

// failingWriteStore fails every upload halfway.
type failingWriteStore struct{ storage.Backend }

func (s failingWriteStore) Write(ctx context.Context, f storage.FileInfo, ts time.Time, r io.Reader) error {
	if _, err := io.CopyN(io.Discard, r, 200); err != nil {
		return err
	}
	return storage.Transient(errors.New("upload interrupted (injected)"))
}

// A failed upload leaves no file and says why; the merge stops.
func TestCompactFailedUploadLeavesNothing(t *testing.T) {
	r, _ := compactReplica(t)
	in := level0(t, r)
	bad := replica.New(failingWriteStore{r.Store})
	bad.Retry = fastRetry
	_, err := bad.Compact(context.Background(), in, 1, replica.CompactOptions{})
	if !storage.IsTransient(err) {
		t.Fatalf("error %v, want the upload's transient error", err)
	}
	if files, _ := r.List(context.Background(), 1, 0); len(files) != 0 {
		t.Errorf("a failed upload left %v", files)
	}
}
