package engine

import (
	"bufio"
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"os"
	"path/filepath"
	"runtime"
	"syscall"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// The write buffer of group commit: an append-only log of the commits this
// process acknowledged and has not stored yet. A COMMIT returns once its
// pages and commit record are fsynced here; every sync interval the
// pending commits become one level-0 file. After a crash the log says
// what was acknowledged, and on which stored TXID it builds.
//
// Layout (all integers big-endian):
//
//	header  "STRATAWB" version:u32 pageSize:u32 base:u64 urlLen:u32 url crc:u32
//	page    'P' pgno:u32 data[pageSize]
//	commit  'C' seq:u64 size:u32 timeMS:i64 pages:u32 crc:u32
//	upload  'U' upTo:u64 txid:u64 node:u64 timeMS:i64 crc:u32
//	stored  'S' upTo:u64 txid:u64 crc:u32
//
// base is the stored TXID the first commit builds on. A commit record's
// crc covers its page records and its own fields: a commit whose record
// is missing or torn was never acknowledged and is ignored. An upload
// record is written before the upload of commits up to upTo as TXID txid:
// if the process dies before the stored record, recovery finds out from
// the replica whether that file is this session's (its NodeID and time).

const (
	bufferMagic   = "STRATAWB"
	bufferVersion = 1
	bufferName    = "pending.log"
)

// bufferFile is one generation of the log. Views of pending commits read
// pages from it; a generation replaced by a fresh log stays open until no
// view refers to it (a cleanup closes it when they are gone).
type bufferFile struct {
	f *os.File
}

// readPage reads a page of a pending commit: fr.Offset is where its data
// is in the log, fr.Size the page size.
func (b *bufferFile) readPage(fr replica.Frame) ([]byte, error) {
	page := make([]byte, fr.Size)
	if _, err := b.f.ReadAt(page, fr.Offset); err != nil {
		return nil, fmt.Errorf("read page %d from the write buffer %s: %w", fr.Pgno, b.f.Name(), err)
	}
	return page, nil
}

// pendingCommit is one acknowledged commit in the log.
type pendingCommit struct {
	seq   uint64
	size  uint32           // database size in pages after it
	time  time.Time        // when it was acknowledged
	pages map[uint32]int64 // page number -> offset of its data in the log
}

// wbuffer is the log of one replica's writer. It is used under the
// writer's commit lock (Writer.flushMu for uploads, the write lock for
// appends; see Writer).
type wbuffer struct {
	dir      string
	path     string
	url      string
	lock     *os.File // flock held for the writer's life: one process per buffer
	cur      *bufferFile
	src      *source // the view source of cur
	pageSize uint32
	base     ltx.TXID // stored TXID the pending commits build on
	pending  []*pendingCommit
	seq      uint64
	end      int64 // where the next record goes
	// upload is set when an upload record has no stored record after it
	// (found by recovery).
	upload *uploadRecord
}

type uploadRecord struct {
	upTo uint64
	txid ltx.TXID
	node uint64
	time time.Time
}

// ErrBufferInUse is matched by errors opening a write buffer that another
// process holds.
var ErrBufferInUse = errors.New("write buffer in use by another process")

// openBuffer locks the buffer in dir and reads what it holds. A missing
// log is an empty buffer (created at the first commit).
func openBuffer(dir, url string) (*wbuffer, error) {
	if err := os.MkdirAll(dir, 0o700); err != nil {
		return nil, fmt.Errorf("write buffer directory %s: %w", dir, err)
	}
	lock, err := os.OpenFile(filepath.Join(dir, "lock"), os.O_RDWR|os.O_CREATE, 0o600)
	if err != nil {
		return nil, fmt.Errorf("write buffer lock in %s: %w", dir, err)
	}
	if err := syscall.Flock(int(lock.Fd()), syscall.LOCK_EX|syscall.LOCK_NB); err != nil {
		lock.Close()
		if errors.Is(err, syscall.EWOULDBLOCK) {
			return nil, fmt.Errorf("%s: %w", dir, ErrBufferInUse)
		}
		return nil, fmt.Errorf("lock write buffer %s: %w", dir, err)
	}
	b := &wbuffer{dir: dir, path: filepath.Join(dir, bufferName), url: url, lock: lock}
	if err := b.recover(); err != nil {
		b.close()
		return nil, err
	}
	return b, nil
}

// recover reads the log: its base, the commits after the last stored
// record, an upload that was under way. A torn tail is cut off.
func (b *wbuffer) recover() error {
	f, err := os.OpenFile(b.path, os.O_RDWR, 0o600)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	} else if err != nil {
		return fmt.Errorf("open write buffer %s: %w", b.path, err)
	}
	b.setFile(f)
	r := bufio.NewReaderSize(io.NewSectionReader(f, 0, 1<<62), 1<<16)
	hdrLen, err := b.readHeader(r)
	if err != nil {
		return fmt.Errorf("write buffer %s: %w", b.path, err)
	}
	off := hdrLen
	good := off // the end of the last complete record: what is kept
	var cur *pendingCommit
	crc := crc32.New(castagnoli)
	for {
		kind, err := r.ReadByte()
		if err != nil {
			break // end of the log
		}
		switch kind {
		case 'P':
			var h [4]byte
			data := make([]byte, b.pageSize)
			if _, err := io.ReadFull(r, h[:]); err != nil {
				goto torn
			}
			if _, err := io.ReadFull(r, data); err != nil {
				goto torn
			}
			if cur == nil {
				cur = &pendingCommit{pages: make(map[uint32]int64)}
				crc.Reset()
			}
			crc.Write([]byte{kind})
			crc.Write(h[:])
			crc.Write(data)
			cur.pages[binary.BigEndian.Uint32(h[:])] = off + 5
			off += 5 + int64(b.pageSize)
		case 'C':
			var rec [28]byte
			if _, err := io.ReadFull(r, rec[:]); err != nil {
				goto torn
			}
			if cur == nil {
				cur = &pendingCommit{pages: make(map[uint32]int64)}
				crc.Reset()
			}
			crc.Write([]byte{kind})
			crc.Write(rec[:24])
			if crc.Sum32() != binary.BigEndian.Uint32(rec[24:]) || int(binary.BigEndian.Uint32(rec[20:])) != len(cur.pages) {
				goto torn
			}
			cur.seq = binary.BigEndian.Uint64(rec[0:])
			cur.size = binary.BigEndian.Uint32(rec[8:])
			cur.time = time.UnixMilli(int64(binary.BigEndian.Uint64(rec[12:])))
			b.pending = append(b.pending, cur)
			b.seq = cur.seq
			cur = nil
			off += 29
			good = off
		case 'U':
			var rec [36]byte
			if _, err := io.ReadFull(r, rec[:]); err != nil || crc32.Checksum(append([]byte{kind}, rec[:32]...), castagnoli) != binary.BigEndian.Uint32(rec[32:]) {
				goto torn
			}
			b.upload = &uploadRecord{
				upTo: binary.BigEndian.Uint64(rec[0:]), txid: ltx.TXID(binary.BigEndian.Uint64(rec[8:])),
				node: binary.BigEndian.Uint64(rec[16:]), time: time.UnixMilli(int64(binary.BigEndian.Uint64(rec[24:]))),
			}
			cur = nil // pages before it without a commit record were abandoned
			off += 37
			good = off
		case 'S':
			var rec [20]byte
			if _, err := io.ReadFull(r, rec[:]); err != nil || crc32.Checksum(append([]byte{kind}, rec[:16]...), castagnoli) != binary.BigEndian.Uint32(rec[16:]) {
				goto torn
			}
			b.stored(binary.BigEndian.Uint64(rec[0:]), ltx.TXID(binary.BigEndian.Uint64(rec[8:])))
			cur = nil
			off += 21
			good = off
		default:
			goto torn
		}
	}
torn:
	// What follows the last complete record was never acknowledged: a
	// torn record, or the pages of a commit whose record was never
	// written. Were those pages kept, the next commit appended after them
	// would read as theirs, fail its checksum, and be dropped.
	if err := f.Truncate(good); err != nil {
		return fmt.Errorf("cut the torn tail of write buffer %s: %w", b.path, err)
	}
	b.end = good
	return nil
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readHeader parses the log header and returns its length.
func (b *wbuffer) readHeader(r io.Reader) (int64, error) {
	var fixed [28]byte
	if _, err := io.ReadFull(r, fixed[:]); err != nil {
		return 0, fmt.Errorf("short header: %w", err)
	}
	if string(fixed[:8]) != bufferMagic {
		return 0, fmt.Errorf("not a strata write buffer (no magic)")
	}
	if v := binary.BigEndian.Uint32(fixed[8:]); v != bufferVersion {
		return 0, fmt.Errorf("write buffer version %d, want %d", v, bufferVersion)
	}
	b.pageSize = binary.BigEndian.Uint32(fixed[12:])
	b.base = ltx.TXID(binary.BigEndian.Uint64(fixed[16:]))
	n := binary.BigEndian.Uint32(fixed[24:])
	if n > 64<<10 || !ltx.IsValidPageSize(b.pageSize) {
		return 0, fmt.Errorf("corrupt header")
	}
	rest := make([]byte, n+4)
	if _, err := io.ReadFull(r, rest); err != nil {
		return 0, fmt.Errorf("short header: %w", err)
	}
	sum := crc32.Checksum(append(fixed[:], rest[:n]...), castagnoli)
	if sum != binary.BigEndian.Uint32(rest[n:]) {
		return 0, fmt.Errorf("corrupt header (checksum)")
	}
	if url := string(rest[:n]); url != b.url {
		return 0, fmt.Errorf("it belongs to replica %s, not %s: pass another buffer= directory", url, b.url)
	}
	return int64(28 + n + 4), nil
}

// header encodes a log header for base.
func (b *wbuffer) header(base ltx.TXID) []byte {
	var h bytes.Buffer
	h.WriteString(bufferMagic)
	binary.Write(&h, binary.BigEndian, uint32(bufferVersion))
	binary.Write(&h, binary.BigEndian, b.pageSize)
	binary.Write(&h, binary.BigEndian, uint64(base))
	binary.Write(&h, binary.BigEndian, uint32(len(b.url)))
	h.WriteString(b.url)
	binary.Write(&h, binary.BigEndian, crc32.Checksum(h.Bytes(), castagnoli))
	return h.Bytes()
}

// stored drops the commits up to upTo, now stored as txid.
func (b *wbuffer) stored(upTo uint64, txid ltx.TXID) {
	i := 0
	for i < len(b.pending) && b.pending[i].seq <= upTo {
		i++
	}
	b.pending = b.pending[i:]
	b.base = txid
	b.upload = nil
}

func (b *wbuffer) setFile(f *os.File) {
	bf := &bufferFile{f: f}
	// Pinned views may still read a replaced generation: it is closed
	// when no view refers to it any more.
	runtime.AddCleanup(bf, func(f *os.File) { f.Close() }, f)
	b.cur = bf
	b.src = &source{buf: bf, version: ^ltx.TXID(0)}
}

// reset starts a fresh log on base, carrying the commits still pending,
// and installs it atomically (temp file, fsync, rename, fsync of the
// directory).
func (b *wbuffer) reset(base ltx.TXID, pageSize uint32) error {
	b.pageSize = pageSize
	tmp, err := os.CreateTemp(b.dir, ".pending-*")
	if err != nil {
		return fmt.Errorf("write buffer: %w", err)
	}
	defer os.Remove(tmp.Name()) // no-op once renamed
	w := &logWriter{f: tmp}
	w.write(b.header(base))
	old := b.cur
	var carried []*pendingCommit
	for _, c := range b.pending {
		nc := &pendingCommit{seq: c.seq, size: c.size, time: c.time, pages: make(map[uint32]int64, len(c.pages))}
		buf := make([]byte, pageSize)
		var crc = crc32.New(castagnoli)
		for pgno, off := range c.pages {
			if _, err := old.f.ReadAt(buf, off); err != nil {
				tmp.Close()
				return fmt.Errorf("copy pending page %d: %w", pgno, err)
			}
			nc.pages[pgno] = w.page(crc, pgno, buf)
		}
		w.commit(crc, c.seq, c.size, c.time, len(c.pages))
		carried = append(carried, nc)
	}
	if w.err == nil {
		w.err = tmp.Sync()
	}
	if w.err == nil {
		w.err = os.Rename(tmp.Name(), b.path)
	}
	if w.err == nil {
		w.err = syncDir(b.dir)
	}
	if w.err != nil {
		tmp.Close()
		return fmt.Errorf("start a new write buffer %s: %w", b.path, w.err)
	}
	b.setFile(tmp)
	b.base, b.pending, b.end, b.upload = base, carried, w.n, nil
	return nil
}

// appendCommit writes the pages of one commit and its record, and
// fsyncs: once it returns, the commit survives a crash.
func (b *wbuffer) appendCommit(pages []uint32, read func(pgno uint32, buf []byte) error, size uint32, now time.Time) (*pendingCommit, error) {
	w := &logWriter{f: b.cur.f, n: b.end}
	crc := crc32.New(castagnoli)
	c := &pendingCommit{seq: b.seq + 1, size: size, time: now, pages: make(map[uint32]int64, len(pages))}
	buf := make([]byte, b.pageSize)
	for _, pgno := range pages {
		if err := read(pgno, buf); err != nil {
			return nil, err
		}
		c.pages[pgno] = w.page(crc, pgno, buf)
	}
	w.commit(crc, c.seq, size, now, len(pages))
	if w.err == nil {
		w.err = b.cur.f.Sync()
	}
	if w.err != nil {
		_ = b.cur.f.Truncate(b.end) // nothing of it was acknowledged
		return nil, fmt.Errorf("write buffer %s: %w", b.path, w.err)
	}
	b.end = w.n
	b.seq = c.seq
	b.pending = append(b.pending, c)
	return c, nil
}

// dropLast takes the last commit out of the log, which ended at end before
// it: it was appended but never acknowledged.
func (b *wbuffer) dropLast(end int64) error {
	b.pending = b.pending[:len(b.pending)-1]
	b.seq--
	if err := b.cur.f.Truncate(end); err != nil {
		return fmt.Errorf("write buffer %s: %w", b.path, err)
	}
	b.end = end
	if err := b.cur.f.Sync(); err != nil {
		return fmt.Errorf("write buffer %s: %w", b.path, err)
	}
	return nil
}

// mark appends an upload or stored record and fsyncs.
func (b *wbuffer) mark(kind byte, upTo uint64, txid ltx.TXID, node uint64, t time.Time) error {
	var rec bytes.Buffer
	rec.WriteByte(kind)
	binary.Write(&rec, binary.BigEndian, upTo)
	binary.Write(&rec, binary.BigEndian, uint64(txid))
	if kind == 'U' {
		binary.Write(&rec, binary.BigEndian, node)
		binary.Write(&rec, binary.BigEndian, t.UnixMilli())
	}
	binary.Write(&rec, binary.BigEndian, crc32.Checksum(rec.Bytes(), castagnoli))
	if _, err := b.cur.f.WriteAt(rec.Bytes(), b.end); err != nil {
		return fmt.Errorf("write buffer %s: %w", b.path, err)
	}
	if err := b.cur.f.Sync(); err != nil {
		return fmt.Errorf("write buffer %s: %w", b.path, err)
	}
	b.end += int64(rec.Len())
	return nil
}

func (b *wbuffer) close() {
	b.lock.Close() // releases the flock
}

// logWriter appends records, keeping the first error.
type logWriter struct {
	f   *os.File
	n   int64
	err error
}

func (w *logWriter) write(p []byte) {
	if w.err != nil {
		return
	}
	_, w.err = w.f.WriteAt(p, w.n)
	w.n += int64(len(p))
}

// page appends a page record and returns the offset of its data.
func (w *logWriter) page(crc io.Writer, pgno uint32, data []byte) int64 {
	var h [5]byte
	h[0] = 'P'
	binary.BigEndian.PutUint32(h[1:], pgno)
	crc.Write(h[:])
	crc.Write(data)
	w.write(h[:])
	off := w.n
	w.write(data)
	return off
}

// commit appends a commit record closing the page records crc covers.
func (w *logWriter) commit(crc interface {
	io.Writer
	Sum32() uint32
}, seq uint64, size uint32, t time.Time, pages int) {
	var rec [25]byte
	rec[0] = 'C'
	binary.BigEndian.PutUint64(rec[1:], seq)
	binary.BigEndian.PutUint32(rec[9:], size)
	binary.BigEndian.PutUint64(rec[13:], uint64(t.UnixMilli()))
	binary.BigEndian.PutUint32(rec[21:], uint32(pages))
	crc.Write(rec[:])
	w.write(rec[:])
	var sum [4]byte
	binary.BigEndian.PutUint32(sum[:], crc.Sum32())
	w.write(sum[:])
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return d.Sync()
}
