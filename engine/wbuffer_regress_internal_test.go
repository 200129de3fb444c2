package engine

import (
	"bytes"
	"hash/crc32"
	"testing"
	"time"
)

// Regression: a process killed while it appended a commit's pages (before
// the commit record) left those pages in the log, and recovery kept them.
// The next session's commit, appended after them, then read as one commit
// with them: its checksum failed, recovery took it for a torn tail, and an
// acknowledged commit was dropped. Recovery now cuts the log after the
// last complete record.
func TestRegressBufferPagesOfAnUnfinishedCommit(t *testing.T) {
	dir := t.TempDir()
	const url = "file:///replica"
	page := func(b byte) []byte { return bytes.Repeat([]byte{b}, 4096) }
	pages := map[uint32][]byte{1: page(1), 2: page(2)}
	read := func(pgno uint32, buf []byte) error { copy(buf, pages[pgno]); return nil }

	b, err := openBuffer(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	if err := b.reset(7, 4096); err != nil {
		t.Fatal(err)
	}
	if _, err := b.appendCommit([]uint32{1}, read, 1, time.Now()); err != nil {
		t.Fatal(err)
	}
	// The process dies while it appends the next commit: two page
	// records, no commit record.
	w := &logWriter{f: b.cur.f, n: b.end}
	crc := crc32.New(castagnoli)
	w.page(crc, 1, page(9))
	w.page(crc, 2, page(9))
	if w.err != nil {
		t.Fatal(w.err)
	}
	b.close()

	// The next session recovers the one acknowledged commit, and
	// acknowledges another.
	b, err = openBuffer(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	if len(b.pending) != 1 {
		t.Fatalf("recovered %d commits, want 1", len(b.pending))
	}
	pages[2] = page(3)
	if _, err := b.appendCommit([]uint32{2}, read, 2, time.Now()); err != nil {
		t.Fatal(err)
	}
	b.close()

	// And the one after recovers both, with their own pages.
	b, err = openBuffer(dir, url)
	if err != nil {
		t.Fatal(err)
	}
	defer b.close()
	if len(b.pending) != 2 {
		t.Fatalf("recovered %d commits, want the 2 acknowledged", len(b.pending))
	}
	got := make([]byte, 4096)
	if _, err := b.cur.f.ReadAt(got, b.pending[1].pages[2]); err != nil || !bytes.Equal(got, page(3)) {
		t.Errorf("page 2 of the second commit reads %d..., %v; want its own page", got[0], err)
	}
}
