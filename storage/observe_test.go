package storage_test

import (
	"bytes"
	"context"
	"errors"
	"io"
	"log/slog"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// A counted backend counts each kind of call, bytes both ways, errors, and
// conditional metadata reads answered "not modified" apart from full ones;
// it keeps the optional interfaces of what it wraps.
func TestCounter(t *testing.T) {
	ctx := context.Background()
	fs, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	var c storage.Counter
	b := storage.Observe(fs, c.Observe)
	for _, iface := range []bool{isExclusive(b), isMeta(b), isLayouter(b), isAllLister(b)} {
		if !iface {
			t.Fatalf("%T lost an optional interface of the directory backend", b)
		}
	}
	f := storage.FileInfo{Level: 0, MinTXID: 1, MaxTXID: 1}
	b.Write(ctx, f, time.Now(), strings.NewReader("hello"))
	b.(storage.ExclusiveWriter).WriteNew(ctx, f, time.Now(), strings.NewReader("again"))
	b.List(ctx, 0, 0)
	b.(storage.AllLister).ListAll(ctx)
	rc, _ := b.ReadRange(ctx, f, 1, 3)
	io.ReadAll(rc)
	rc.Close()
	ms := b.(storage.MetaStore)
	ms.WriteMeta(ctx, "strata-head.json", []byte("{}"))
	_, tag, _ := ms.ReadMeta(ctx, "strata-head.json", "")
	ms.ReadMeta(ctx, "strata-head.json", tag)
	ms.ReadMeta(ctx, "strata-head.json", tag)
	b.Delete(ctx, []storage.FileInfo{f})
	for name, got := range map[string][2]int64{
		"lists": {c.Lists.Load(), 2}, "reads": {c.Reads.Load(), 1}, "writes": {c.Writes.Load(), 2},
		"deletes": {c.Deletes.Load(), 1}, "meta reads": {c.MetaReads.Load(), 1}, "not modified": {c.NotModified.Load(), 2},
		"meta writes": {c.MetaWrites.Load(), 1}, "errors": {c.Errors.Load(), 1}, "bytes read": {c.BytesRead.Load(), 3 + 2},
		"bytes written": {c.BytesWritten.Load(), 5 + 5 + 2},
	} {
		if got[0] != got[1] {
			t.Errorf("%s = %d, want %d", name, got[0], got[1])
		}
	}
}

func isExclusive(b storage.Backend) bool { _, ok := b.(storage.ExclusiveWriter); return ok }
func isMeta(b storage.Backend) bool      { _, ok := b.(storage.MetaStore); return ok }
func isLayouter(b storage.Backend) bool  { _, ok := b.(storage.Layouter); return ok }
func isAllLister(b storage.Backend) bool { _, ok := b.(storage.AllLister); return ok }

// plain is a backend with none of the optional interfaces.
type plain struct{ storage.Backend }

// Observing a backend adds no optional interface it lacks (except
// AllLister, done level by level), so callers that look for them still
// fall back correctly.
func TestObserveKeepsOnlyWhatTheBackendHas(t *testing.T) {
	fs, _ := filestore.New(t.TempDir())
	b := storage.Observe(plain{fs}, func(storage.Request) {})
	if isExclusive(b) || isMeta(b) || isLayouter(b) {
		t.Errorf("%T claims optional interfaces its backend does not have", b)
	}
	if !isAllLister(b) {
		t.Error("no ListAll")
	}
}

// WithLogging logs every request at debug level with its latency and
// size, and costs nothing when debug is off.
func TestWithLogging(t *testing.T) {
	ctx := context.Background()
	fs, _ := filestore.New(t.TempDir())
	var buf bytes.Buffer
	b := storage.WithLogging(fs, slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{Level: slog.LevelDebug})))
	f := storage.FileInfo{Level: 0, MinTXID: 1, MaxTXID: 1}
	b.Write(ctx, f, time.Now(), strings.NewReader("hello"))
	rc, _ := b.ReadRange(ctx, f, 0, -1)
	io.ReadAll(rc)
	rc.Close()
	b.ReadRange(ctx, storage.FileInfo{Level: 0, MinTXID: 9, MaxTXID: 9}, 0, 1)
	out := buf.String()
	for _, want := range []string{"op=write", "bytes=5", "op=read", "latency=", "target=L0/0000000000000001-0000000000000001.ltx", "error="} {
		if !strings.Contains(out, want) {
			t.Errorf("log lacks %q:\n%s", want, out)
		}
	}
	quiet := storage.WithLogging(fs, slog.New(slog.NewTextHandler(io.Discard, &slog.HandlerOptions{Level: slog.LevelInfo})))
	if quiet != storage.Backend(fs) {
		t.Error("with debug off, WithLogging should return the backend itself")
	}
	if _, err := b.ReadRange(ctx, storage.FileInfo{Level: 3, MinTXID: 9, MaxTXID: 9}, 0, 1); !errors.Is(err, storage.ErrNotFound) {
		t.Errorf("errors pass through: %v", err)
	}
}
