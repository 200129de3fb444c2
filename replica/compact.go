package replica

import (
	"bufio"
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"sync"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// This file is strata's one merge of LTX files: compaction into a higher
// level, snapshots, and the test writer all use it. It wraps ltx.Compactor,
// which walks every input in page order at once and keeps only the newest
// version of each page, so memory depends on how many inputs are read at
// once, never on the size of the database:
//
//   - small inputs are read whole, in parallel, up to a memory budget; the
//     others are streamed from storage (a broken stream resumes where it
//     stopped);
//   - more inputs than MaxFanIn are merged in stages through temporary LTX
//     files on local disk;
//   - the output's page index spills to local disk once it is large;
//   - the output streams to storage through a pipe.

// CompactOptions tunes Compact and Merge. Zero fields get defaults.
type CompactOptions struct {
	// TempDir holds what a merge keeps on local disk: the output page index
	// of large files, and intermediate merges when there are more inputs
	// than MaxFanIn. Default: os.TempDir().
	TempDir string
	// MemoryBudget is how many bytes of input files may be read whole,
	// ahead of the merge and in parallel (default 32 MiB). Other inputs
	// are streamed, each through a 64 KiB buffer.
	MemoryBudget int64
	// MaxFanIn bounds how many inputs one merge reads at once (default 128).
	MaxFanIn int
	// Overwrite stores the output with Write, replacing a file of the same
	// name, instead of creating it only if it is absent.
	Overwrite bool
}

const (
	defaultMemoryBudget = 32 << 20
	defaultMaxFanIn     = 128
	// wholeFileLimit: a larger file is streamed even within the budget, so
	// that one big file does not take the place of many small ones.
	wholeFileLimit = 4 << 20
	// streamBuffer is the read buffer of each streamed input.
	streamBuffer = 64 << 10
	// indexSpillEntries is how many output page-index entries stay in
	// memory (a few MiB) before the index spills to TempDir.
	indexSpillEntries = 1 << 16
	// prefetchParallel is how many whole-file reads run at once.
	prefetchParallel = 8
)

func (o CompactOptions) withDefaults() CompactOptions {
	if o.TempDir == "" {
		o.TempDir = os.TempDir()
	}
	if o.MemoryBudget <= 0 {
		o.MemoryBudget = defaultMemoryBudget
	}
	if o.MaxFanIn < 2 {
		o.MaxFanIn = defaultMaxFanIn
	}
	return o
}

// CheckChain reports whether inputs can be merged into one file at level:
// files below level, in TXID order, each starting at or before the TXID
// after the end of the one before it and ending after it (overlaps are
// allowed: pages come from the newest file). A snapshot (level 9) must
// start at TXID 1.
func CheckChain(inputs []storage.FileInfo, level int) error {
	if level < 1 || level > storage.MaxLevel {
		return fmt.Errorf("compact: invalid output level %d (want 1 to %d)", level, storage.MaxLevel)
	}
	if err := checkContiguous(inputs); err != nil {
		return err
	}
	for i, f := range inputs {
		// A new snapshot may start from an older one.
		if f.Level >= level && !(level == storage.SnapshotLevel && i == 0) {
			return fmt.Errorf("compact: input %s is not below output level %d", f, level)
		}
	}
	if level == storage.SnapshotLevel && inputs[0].MinTXID != 1 {
		return fmt.Errorf("compact: a snapshot must start at TXID 1, first input is %s", inputs[0])
	}
	return nil
}

// checkContiguous checks the TXID ranges of a chain, whatever its levels.
func checkContiguous(inputs []storage.FileInfo) error {
	if len(inputs) == 0 {
		return errors.New("compact: no input files")
	}
	for i, f := range inputs {
		if f.MinTXID == 0 || f.MaxTXID < f.MinTXID {
			return fmt.Errorf("compact: input %s has an invalid TXID range", f)
		}
		if i > 0 && !ltx.IsContiguous(inputs[i-1].MaxTXID, f.MinTXID, f.MaxTXID) {
			return fmt.Errorf("compact: input %s does not follow %s (a gap or a file out of order)", f, inputs[i-1])
		}
	}
	return nil
}

// Compact merges inputs (see CheckChain) into one file at level covering
// [first MinTXID, last MaxTXID] and stores it. The output's header has the
// last input's timestamp (the commit time of its MaxTXID) and, as
// Litestream writes compacted files, no checksum tracking unless the last
// input tracks checksums. Every input is verified (its checksum) as it is
// read.
//
// Unless opts.Overwrite, the file is created only if it is absent: when it
// exists, the error matches storage.ErrExists (another compactor created
// it, or an earlier attempt whose answer was lost). A corrupt input gives
// an error matching *CorruptError that names it. Transient storage errors
// are retried, the whole merge again.
func (r *Replica) Compact(ctx context.Context, inputs []storage.FileInfo, level int, opts CompactOptions) (storage.FileInfo, error) {
	if err := CheckChain(inputs, level); err != nil {
		return storage.FileInfo{}, err
	}
	out := storage.FileInfo{Level: level, MinTXID: inputs[0].MinTXID, MaxTXID: inputs[len(inputs)-1].MaxTXID}
	// The timestamp goes to storage with the first byte (file time, S3
	// metadata), before the merge has read the last input.
	last, err := r.ParsedHeader(ctx, inputs[len(inputs)-1])
	if err != nil {
		return out, fmt.Errorf("compact %s: %w", out, err)
	}
	out.ModTime = time.UnixMilli(last.Timestamp).UTC()
	// Reads inside the merge retry on their own; a few more tries of the
	// whole merge cover a failed upload.
	retry := r.Retry
	retry.Attempts = min(retry.Attempts, 3)
	err = retry.Do(ctx, func() error {
		n, err := r.compactOnce(ctx, inputs, out, opts)
		out.Size = n
		return err
	})
	if err != nil {
		return out, fmt.Errorf("compact %d files into %s of %s: %w", len(inputs), out, r.Store, err)
	}
	return out, nil
}

// compactOnce merges into a pipe that the upload reads.
func (r *Replica) compactOnce(ctx context.Context, inputs []storage.FileInfo, out storage.FileInfo, opts CompactOptions) (int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	pr, pw := io.Pipe()
	type result struct {
		n   int64
		err error
	}
	done := make(chan result, 1)
	go func() {
		_, n, err := r.Merge(ctx, inputs, pw, opts)
		pw.CloseWithError(err)
		done <- result{n, err}
	}()
	var werr error
	if ew, ok := r.Store.(storage.ExclusiveWriter); ok && !opts.Overwrite {
		werr = ew.WriteNew(ctx, out, out.ModTime, pr)
	} else {
		werr = r.Store.Write(ctx, out, out.ModTime, pr)
	}
	pr.CloseWithError(werr) // unblocks the merge if the upload stopped reading
	if werr != nil {
		cancel()
	}
	res := <-done
	var oerr *outputError
	switch {
	case res.err != nil && !errors.As(res.err, &oerr):
		return 0, res.err // the cause; the upload's error is its consequence
	case werr != nil:
		return 0, werr
	case res.err != nil:
		return 0, res.err
	}
	return res.n, nil
}

// Merge writes the merge of inputs (see CheckChain and Compact) to w as one
// LTX file and returns its header and size. It does not retry.
func (r *Replica) Merge(ctx context.Context, inputs []storage.FileInfo, w io.Writer, opts CompactOptions) (ltx.Header, int64, error) {
	if err := checkContiguous(inputs); err != nil {
		return ltx.Header{}, 0, err
	}
	m := &merger{r: r, opts: opts.withDefaults()}
	defer m.close()
	srcs := make([]source, len(inputs))
	for i, f := range inputs {
		srcs[i] = source{file: f}
	}
	return m.merge(ctx, srcs, w)
}

// merger runs one Merge: it owns the temporary directory of the stages.
type merger struct {
	r    *Replica
	opts CompactOptions
	tmp  string // created on first use, removed by close
}

// source is one input of a merge stage: a file of the replica, or an
// intermediate file on local disk.
type source struct {
	file  storage.FileInfo // TXID range (and, for a remote file, its name)
	local string           // path of an intermediate file; "" for a remote one
}

func (s source) String() string {
	if s.local != "" {
		return fmt.Sprintf("intermediate merge %s-%s (%s)", s.file.MinTXID, s.file.MaxTXID, s.local)
	}
	return s.file.String()
}

func (m *merger) close() {
	if m.tmp != "" {
		_ = os.RemoveAll(m.tmp)
	}
}

func (m *merger) tempDir() (string, error) {
	if m.tmp == "" {
		dir, err := os.MkdirTemp(m.opts.TempDir, "strata-merge-")
		if err != nil {
			return "", fmt.Errorf("compact: temporary directory: %w", err)
		}
		m.tmp = dir
	}
	return m.tmp, nil
}

// merge merges srcs into w, in stages of at most MaxFanIn inputs.
func (m *merger) merge(ctx context.Context, srcs []source, w io.Writer) (ltx.Header, int64, error) {
	for len(srcs) > m.opts.MaxFanIn {
		var next []source
		for i := 0; i < len(srcs); i += m.opts.MaxFanIn {
			group := srcs[i:min(i+m.opts.MaxFanIn, len(srcs))]
			if len(group) == 1 {
				next = append(next, group[0])
				continue
			}
			s, err := m.stage(ctx, group)
			if err != nil {
				return ltx.Header{}, 0, err
			}
			next = append(next, s)
		}
		srcs = next
	}
	defer removeLocal(srcs)
	return m.mergeOnce(ctx, srcs, w)
}

// stage merges group into an intermediate file and removes the
// intermediate files it consumed.
func (m *merger) stage(ctx context.Context, group []source) (source, error) {
	defer removeLocal(group)
	dir, err := m.tempDir()
	if err != nil {
		return source{}, err
	}
	fh, err := os.CreateTemp(dir, "stage-*.ltx")
	if err != nil {
		return source{}, fmt.Errorf("compact: %w", err)
	}
	bw := bufio.NewWriterSize(fh, streamBuffer)
	_, _, err = m.mergeOnce(ctx, group, bw)
	if err == nil {
		err = bw.Flush()
	}
	if cerr := fh.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		_ = os.Remove(fh.Name())
		return source{}, err
	}
	first, last := group[0].file, group[len(group)-1].file
	return source{file: storage.FileInfo{MinTXID: first.MinTXID, MaxTXID: last.MaxTXID}, local: fh.Name()}, nil
}

func removeLocal(srcs []source) {
	for _, s := range srcs {
		if s.local != "" {
			_ = os.Remove(s.local)
		}
	}
}

// outputError marks a failure to write the merged file (not an input's).
type outputError struct{ err error }

func (e *outputError) Error() string { return "write merged file: " + e.err.Error() }
func (e *outputError) Unwrap() error { return e.err }

// countingWriter counts what reaches w and remembers w's first error.
type countingWriter struct {
	w   io.Writer
	n   int64
	err error
}

func (c *countingWriter) Write(p []byte) (int, error) {
	n, err := c.w.Write(p)
	c.n += int64(n)
	if err != nil && c.err == nil {
		c.err = err
	}
	return n, err
}

// mergeOnce merges at most MaxFanIn sources into w with ltx.Compactor.
func (m *merger) mergeOnce(ctx context.Context, srcs []source, w io.Writer) (ltx.Header, int64, error) {
	ctx, cancel := context.WithCancel(ctx)
	ins, wait := m.open(ctx, srcs)
	defer func() {
		cancel()
		wait()
		for _, in := range ins {
			in.close()
		}
	}()

	// Headers first: a junk or mismatched input is named before anything is
	// written, and the output's flags depend on the last input.
	hdrs := make([]ltx.Header, len(ins))
	for i, in := range ins {
		h, err := in.readHeader(ctx)
		if err != nil {
			return ltx.Header{}, 0, err
		}
		hdrs[i] = h
		if i > 0 && h.PageSize != hdrs[0].PageSize {
			return ltx.Header{}, 0, m.blame(ctx, ins, fmt.Errorf("compact: page size changes from %d in %s to %d in %s",
				hdrs[0].PageSize, ins[0].src, h.PageSize, in.src))
		}
	}

	var last int // index of the input read last: the one a decode error is about
	rdrs := make([]io.Reader, len(ins))
	for i, in := range ins {
		rdrs[i] = &tracked{r: newFrameGuard(in.body()), i: i, last: &last}
	}
	out := &countingWriter{w: w}
	c, err := ltx.NewCompactor(out, rdrs)
	if err != nil {
		return ltx.Header{}, 0, err
	}
	if hdrs[len(hdrs)-1].NoChecksum() {
		c.HeaderFlags = ltx.HeaderFlagNoChecksum
	}
	dir, err := m.tempDir()
	if err != nil {
		return ltx.Header{}, 0, err
	}
	c.SetSpillDir(dir)
	c.SetSpillThreshold(indexSpillEntries)
	defer func() { _ = c.Cleanup() }()

	if err := c.Compact(ctx); err != nil {
		switch {
		case out.err != nil:
			return ltx.Header{}, out.n, &outputError{out.err}
		case ctx.Err() != nil:
			return ltx.Header{}, out.n, ctx.Err()
		}
		for _, in := range ins {
			if in.readErr != nil { // storage failed under the decoder
				return ltx.Header{}, out.n, in.readErr
			}
		}
		return ltx.Header{}, out.n, m.blame(ctx, ins, ins[last].corrupt(err))
	}
	return c.Header(), out.n, nil
}

// blame finds the input that made a merge fail: the first one that does not
// decode on its own (read again from memory, disk or storage). If each
// input is valid alone, the merge's own error stands.
func (m *merger) blame(ctx context.Context, ins []*input, mergeErr error) error {
	for _, in := range ins {
		if err := in.verify(ctx); err != nil {
			return err
		}
	}
	return mergeErr
}

// verify decodes the input whole on its own and checks its checksum.
func (in *input) verify(ctx context.Context) (err error) {
	var rd io.Reader
	switch {
	case in.data != nil:
		rd = bytes.NewReader(in.data)
	case in.src.local != "":
		fh, err := os.Open(in.src.local)
		if err != nil {
			return fmt.Errorf("compact: %w", err)
		}
		defer fh.Close()
		rd = bufio.NewReaderSize(fh, streamBuffer)
	default:
		s := &resumable{ctx: ctx, r: in.m.r, f: in.src.file}
		defer s.close()
		rd = bufio.NewReaderSize(s, streamBuffer)
		defer func() {
			if s.err != nil { // storage failed: that, not the bytes, is the news
				err = s.err
			}
		}()
	}
	dec := ltx.NewDecoder(newFrameGuard(rd))
	dec.SetRetainPageIndex(false)
	if err := dec.DecodeHeader(); err != nil {
		return in.corrupt(fmt.Errorf("header: %w", err))
	}
	if h := dec.Header(); h.MinTXID != in.src.file.MinTXID || h.MaxTXID != in.src.file.MaxTXID {
		return in.corrupt(fmt.Errorf("header says TXIDs %s-%s", h.MinTXID, h.MaxTXID))
	}
	buf := make([]byte, dec.Header().PageSize)
	for {
		var ph ltx.PageHeader
		if err := dec.DecodePage(&ph, buf); err == io.EOF {
			break
		} else if err != nil {
			return in.corrupt(fmt.Errorf("page: %w", err))
		}
	}
	if err := dec.Close(); err != nil {
		return in.corrupt(fmt.Errorf("verify: %w", err))
	}
	return nil
}

// tracked notes which input the compactor read last.
type tracked struct {
	r    io.Reader
	i    int
	last *int
}

func (t *tracked) Read(p []byte) (int, error) {
	*t.last = t.i
	return t.r.Read(p)
}

// input is one source being merged: its bytes arrive whole (prefetched),
// as a stream from storage, or from a local file.
type input struct {
	m   *merger
	src source

	whole chan fetched // prefetched bytes; nil when streamed
	data  []byte       // the prefetched bytes once received

	stream  *resumable // a remote file read as a stream
	fh      *os.File   // a local intermediate file
	rd      io.Reader  // what the header and body are read from
	hdr     []byte     // the header bytes already read
	readErr error      // a storage error under the decoder
}

// open prepares an input per source and starts the whole-file reads; wait
// returns once they have all ended (cancel ctx first to stop them early).
func (m *merger) open(ctx context.Context, srcs []source) ([]*input, func()) {
	ins := make([]*input, len(srcs))
	budget := m.opts.MemoryBudget
	var wg sync.WaitGroup
	sem := make(chan struct{}, prefetchParallel)
	for i, s := range srcs {
		in := &input{m: m, src: s}
		ins[i] = in
		if s.local != "" || s.file.Size <= 0 || s.file.Size > wholeFileLimit || s.file.Size > budget {
			continue
		}
		budget -= s.file.Size
		in.whole = make(chan fetched, 1)
		wg.Go(func() {
			select {
			case sem <- struct{}{}:
				defer func() { <-sem }()
			case <-ctx.Done():
				in.whole <- fetched{err: ctx.Err()}
				return
			}
			data, err := m.r.ReadAt(ctx, s.file, 0, s.file.Size)
			in.whole <- fetched{data, err}
		})
	}
	return ins, wg.Wait
}

// reader opens the input's bytes on first use.
func (in *input) reader(ctx context.Context) (io.Reader, error) {
	if in.rd != nil {
		return in.rd, nil
	}
	switch {
	case in.whole != nil:
		select {
		case res := <-in.whole:
			if res.err != nil {
				return nil, res.err
			}
			in.data = res.data
			in.rd = bytes.NewReader(res.data)
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	case in.src.local != "":
		fh, err := os.Open(in.src.local)
		if err != nil {
			return nil, fmt.Errorf("compact: %w", err)
		}
		in.fh = fh
		in.rd = bufio.NewReaderSize(fh, streamBuffer)
	default:
		in.stream = &resumable{ctx: ctx, r: in.m.r, f: in.src.file}
		in.rd = bufio.NewReaderSize(in.stream, streamBuffer)
	}
	return in.rd, nil
}

// readHeader reads and checks the input's LTX header.
func (in *input) readHeader(ctx context.Context) (ltx.Header, error) {
	rd, err := in.reader(ctx)
	if err != nil {
		return ltx.Header{}, err
	}
	b := make([]byte, ltx.HeaderSize)
	if n, err := io.ReadFull(rd, b); err != nil {
		if in.stream != nil && in.stream.err != nil {
			return ltx.Header{}, in.stream.err
		}
		return ltx.Header{}, in.corrupt(fmt.Errorf("header: read %d of %d bytes: %w", n, ltx.HeaderSize, err))
	}
	in.hdr = b
	var h ltx.Header
	if err := h.UnmarshalBinary(b); err != nil {
		return h, in.corrupt(fmt.Errorf("bad header (wrong magic?): %w", err))
	}
	if err := h.Validate(); err != nil {
		return h, in.corrupt(fmt.Errorf("bad header: %w", err))
	}
	if h.MinTXID != in.src.file.MinTXID || h.MaxTXID != in.src.file.MaxTXID {
		return h, in.corrupt(fmt.Errorf("header says TXIDs %s-%s", h.MinTXID, h.MaxTXID))
	}
	return h, nil
}

// body is the whole file again, header included, for the decoder; read
// errors from storage are kept so that they are not taken for corruption.
func (in *input) body() io.Reader {
	return io.MultiReader(bytes.NewReader(in.hdr), &errKeeper{r: in.rd, in: in})
}

type errKeeper struct {
	r  io.Reader
	in *input
}

func (e *errKeeper) Read(p []byte) (int, error) {
	n, err := e.r.Read(p)
	if err != nil && err != io.EOF && e.in.readErr == nil {
		if e.in.stream != nil && e.in.stream.err != nil {
			e.in.readErr = e.in.stream.err
		} else if e.in.fh != nil {
			e.in.readErr = fmt.Errorf("compact: read %s: %w", e.in.src, err)
		}
	}
	return n, err
}

func (in *input) corrupt(err error) error {
	if in.src.local != "" {
		return fmt.Errorf("compact: %s: %w", in.src, err)
	}
	return in.m.r.corrupt(in.src.file, err)
}

func (in *input) close() {
	if in.stream != nil {
		in.stream.close()
	}
	if in.fh != nil {
		_ = in.fh.Close()
	}
	in.data = nil
}

// resumable streams a whole file from storage; when the stream breaks, it
// opens the rest of the file again from where it stopped, with the
// replica's retry policy.
type resumable struct {
	ctx context.Context
	r   *Replica
	f   storage.FileInfo
	rc  io.ReadCloser
	off int64
	err error // the storage error that ended the stream, if any
}

func (s *resumable) Read(p []byte) (int, error) {
	if s.err != nil {
		return 0, s.err
	}
	if s.off >= s.f.Size && s.f.Size > 0 {
		return 0, io.EOF
	}
	for attempt := 0; ; attempt++ {
		if s.rc == nil {
			err := s.r.Retry.Do(s.ctx, func() (err error) {
				s.rc, err = s.r.Store.ReadRange(s.ctx, s.f, s.off, -1)
				return err
			})
			if err != nil {
				s.err = fmt.Errorf("read %s at %d: %w", s.f, s.off, err)
				return 0, s.err
			}
		}
		n, err := s.rc.Read(p)
		s.off += int64(n)
		switch {
		case err == io.EOF && s.off < s.f.Size:
			err = io.ErrUnexpectedEOF // the body ended early: read on
		case err == io.EOF || err == nil:
			return n, err
		}
		s.rc.Close()
		s.rc = nil
		if n > 0 {
			return n, nil // progress: the next Read reopens
		}
		if s.ctx.Err() != nil {
			s.err = s.ctx.Err()
			return 0, s.err
		}
		if !storage.IsTransient(err) && err != io.ErrUnexpectedEOF || attempt >= max(s.r.Retry.Attempts, 1) {
			s.err = fmt.Errorf("read %s at %d: %w", s.f, s.off, err)
			return 0, s.err
		}
	}
}

func (s *resumable) close() {
	if s.rc != nil {
		s.rc.Close()
		s.rc = nil
	}
}
