package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"sync/atomic"
	"time"

	"github.com/superfly/ltx"
)

// Op is the kind of a backend call.
type Op string

// The calls an observer sees.
const (
	OpList      Op = "list"
	OpListAll   Op = "list-all"
	OpRead      Op = "read"
	OpWrite     Op = "write"
	OpWriteNew  Op = "write-new"
	OpDelete    Op = "delete"
	OpReadMeta  Op = "read-meta"
	OpWriteMeta Op = "write-meta"
)

// Request is one call to a backend, reported when it ends.
type Request struct {
	Op Op
	// Target names what the call was about: a file ("L0/<min>-<max>.ltx"),
	// a level ("L0"), a metadata object's name, or "" (list-all).
	Target string
	// Files is how many files a listing returned or a delete removed.
	Files int
	// Bytes is how many bytes were read (read, read-meta) or written
	// (write, write-new, write-meta).
	Bytes int64
	// Latency is how long the backend took to answer: for a read, until
	// the body could be read; for everything else, the whole call.
	Latency time.Duration
	// Duration is the whole call; for a read, until its body was closed.
	Duration time.Duration
	// NotModified is true for a conditional read-meta that found the
	// object unchanged (HTTP 304: no body transferred).
	NotModified bool
	Err         error
}

// Observe returns b with fn called after every call (for a range read,
// when its body is closed). The result implements the same optional
// interfaces (ExclusiveWriter, MetaStore, Layouter) as b, plus AllLister
// (listing level by level where b cannot list all at once). fn must be
// safe for concurrent use.
func Observe(b Backend, fn func(Request)) Backend {
	o := &observed{b: b, fn: fn}
	_, ew := b.(ExclusiveWriter)
	_, ms := b.(MetaStore)
	_, ly := b.(Layouter)
	x, m, l := exclusive{o}, meta{o}, layout{o}
	switch {
	case ew && ms && ly:
		return struct {
			*observed
			exclusive
			meta
			layout
		}{o, x, m, l}
	case ew && ms:
		return struct {
			*observed
			exclusive
			meta
		}{o, x, m}
	case ew && ly:
		return struct {
			*observed
			exclusive
			layout
		}{o, x, l}
	case ms && ly:
		return struct {
			*observed
			meta
			layout
		}{o, m, l}
	case ew:
		return struct {
			*observed
			exclusive
		}{o, x}
	case ms:
		return struct {
			*observed
			meta
		}{o, m}
	case ly:
		return struct {
			*observed
			layout
		}{o, l}
	}
	return o
}

// WithLogging returns b with every call logged at debug level: the
// operation, the file or object, bytes, latency and error. It is what
// STRATA_LOG_LEVEL=debug turns on. Nothing is logged (or measured) when
// the logger does not log debug records.
func WithLogging(b Backend, log *slog.Logger) Backend {
	if !log.Enabled(context.Background(), slog.LevelDebug) {
		return b
	}
	replica := b.String()
	return Observe(b, func(r Request) {
		attrs := []slog.Attr{
			slog.String("replica", replica), slog.String("op", string(r.Op)),
			slog.Duration("latency", r.Latency),
		}
		if r.Target != "" {
			attrs = append(attrs, slog.String("target", r.Target))
		}
		if r.Files > 0 {
			attrs = append(attrs, slog.Int("files", r.Files))
		}
		if r.Bytes > 0 || r.Op == OpRead {
			attrs = append(attrs, slog.Int64("bytes", r.Bytes))
		}
		if r.Duration != r.Latency {
			attrs = append(attrs, slog.Duration("duration", r.Duration))
		}
		if r.NotModified {
			attrs = append(attrs, slog.Bool("not_modified", true))
		}
		if r.Err != nil {
			attrs = append(attrs, slog.String("error", r.Err.Error()))
		}
		log.LogAttrs(context.Background(), slog.LevelDebug, "storage request", attrs...)
	})
}

// Counter counts backend calls by kind; pass its Observe method to
// Observe. The zero value is ready to use and safe for concurrent use.
type Counter struct {
	Lists        atomic.Int64 // list and list-all calls
	Reads        atomic.Int64 // range reads opened
	Writes       atomic.Int64 // write and write-new calls
	Deletes      atomic.Int64 // delete calls
	MetaReads    atomic.Int64 // read-meta calls that transferred the object
	NotModified  atomic.Int64 // read-meta calls answered "not modified" (HTTP 304)
	MetaWrites   atomic.Int64 // write-meta calls
	Errors       atomic.Int64 // calls that failed (not counting "not modified")
	BytesRead    atomic.Int64 // bytes of range reads and metadata reads
	BytesWritten atomic.Int64 // bytes of writes and metadata writes
}

// Observe counts one call.
func (c *Counter) Observe(r Request) {
	if r.Err != nil {
		c.Errors.Add(1)
	}
	switch r.Op {
	case OpList, OpListAll:
		c.Lists.Add(1)
	case OpRead:
		c.Reads.Add(1)
		c.BytesRead.Add(r.Bytes)
	case OpWrite, OpWriteNew:
		c.Writes.Add(1)
		c.BytesWritten.Add(r.Bytes)
	case OpDelete:
		c.Deletes.Add(1)
	case OpReadMeta:
		if r.NotModified {
			c.NotModified.Add(1)
		} else if r.Err == nil {
			c.MetaReads.Add(1)
			c.BytesRead.Add(r.Bytes)
		}
	case OpWriteMeta:
		c.MetaWrites.Add(1)
		c.BytesWritten.Add(r.Bytes)
	}
}

// observed is the Backend part of Observe's result; exclusive, meta and
// layout add the optional interfaces b has.
type observed struct {
	b  Backend
	fn func(Request)
}

func (o *observed) report(op Op, target string, start time.Time, r Request) {
	r.Op, r.Target = op, target
	r.Latency = time.Since(start)
	r.Duration = r.Latency
	o.fn(r)
}

func (o *observed) List(ctx context.Context, level int, from ltx.TXID) ([]FileInfo, error) {
	start := time.Now()
	files, err := o.b.List(ctx, level, from)
	o.report(OpList, fmt.Sprintf("L%d", level), start, Request{Files: len(files), Err: err})
	return files, err
}

func (o *observed) ListAll(ctx context.Context) ([]FileInfo, error) {
	start := time.Now()
	files, err := ListFiles(ctx, o.b)
	o.report(OpListAll, "", start, Request{Files: len(files), Err: err})
	return files, err
}

func (o *observed) ReadRange(ctx context.Context, f FileInfo, off, length int64) (io.ReadCloser, error) {
	start := time.Now()
	rc, err := o.b.ReadRange(ctx, f, off, length)
	if err != nil {
		o.report(OpRead, f.String(), start, Request{Err: err})
		return nil, err
	}
	return &observedBody{ReadCloser: rc, o: o, target: f.String(), start: start, latency: time.Since(start)}, nil
}

func (o *observed) Write(ctx context.Context, f FileInfo, timestamp time.Time, r io.Reader) error {
	start := time.Now()
	cr := &countingReader{r: r}
	err := o.b.Write(ctx, f, timestamp, cr)
	o.report(OpWrite, f.String(), start, Request{Bytes: cr.n, Err: err})
	return err
}

func (o *observed) Delete(ctx context.Context, files []FileInfo) error {
	start := time.Now()
	err := o.b.Delete(ctx, files)
	target := ""
	if len(files) > 0 {
		target = files[0].String()
	}
	o.report(OpDelete, target, start, Request{Files: len(files), Err: err})
	return err
}

func (o *observed) Close() error   { return o.b.Close() }
func (o *observed) String() string { return o.b.String() }

type exclusive struct{ o *observed }

func (x exclusive) WriteNew(ctx context.Context, f FileInfo, timestamp time.Time, r io.Reader) error {
	start := time.Now()
	cr := &countingReader{r: r}
	err := x.o.b.(ExclusiveWriter).WriteNew(ctx, f, timestamp, cr)
	x.o.report(OpWriteNew, f.String(), start, Request{Bytes: cr.n, Err: err})
	return err
}

type meta struct{ o *observed }

func (m meta) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	start := time.Now()
	data, tag, err := m.o.b.(MetaStore).ReadMeta(ctx, name, etag)
	r := Request{Bytes: int64(len(data)), Err: err}
	if errors.Is(err, ErrNotModified) {
		r.NotModified, r.Err = true, nil
	}
	m.o.report(OpReadMeta, name, start, r)
	return data, tag, err
}

func (m meta) WriteMeta(ctx context.Context, name string, data []byte) error {
	start := time.Now()
	err := m.o.b.(MetaStore).WriteMeta(ctx, name, data)
	m.o.report(OpWriteMeta, name, start, Request{Bytes: int64(len(data)), Err: err})
	return err
}

type layout struct{ o *observed }

func (l layout) Layout() Layout { return l.o.b.(Layouter).Layout() }

// observedBody reports a range read when it is closed.
type observedBody struct {
	io.ReadCloser
	o       *observed
	target  string
	start   time.Time
	latency time.Duration
	n       int64
	err     error
	closed  bool
}

func (b *observedBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	b.n += int64(n)
	if err != nil && err != io.EOF {
		b.err = err
	}
	return n, err
}

func (b *observedBody) Close() error {
	err := b.ReadCloser.Close()
	if !b.closed {
		b.closed = true
		b.o.fn(Request{Op: OpRead, Target: b.target, Bytes: b.n, Latency: b.latency,
			Duration: time.Since(b.start), Err: b.err})
	}
	return err
}

type countingReader struct {
	r io.Reader
	n int64
}

func (c *countingReader) Read(p []byte) (int, error) {
	n, err := c.r.Read(p)
	c.n += int64(n)
	return n, err
}
