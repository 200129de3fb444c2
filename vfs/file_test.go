package vfs

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"testing"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// testFile is a connection's file over a database whose latest view is v,
// with the given pages already in the cache (so nothing is fetched).
func testFile(v *view, cached map[uint32][]byte) *file {
	db := &database{
		ctx:     context.Background(),
		log:     slog.New(slog.DiscardHandler),
		cache:   newPageCache(64<<20, v.pageSize),
		current: v,
	}
	for pgno, data := range cached {
		loc := v.lookup(pgno)
		db.cache.lru.Add(pageKey{loc.file.File.Key(), pgno}, data)
	}
	return &file{db: db}
}

// SQLite reads page 1 through the VFS with the header patched: rollback
// journal mode (bytes 18-19 = 1), and the change counter, the
// version-valid-for number and the in-header size following the view, so
// that SQLite drops its cache whenever the state moved.
func TestReadAtPatchesTheHeader(t *testing.T) {
	x := ltxFile(0, 1, 7, 5, 1)
	v := mustApply(t, &view{}, x)
	page1 := make([]byte, 4096)
	copy(page1, "SQLite format 3\x00")
	page1[18], page1[19] = 2, 2 // WAL, as Litestream's sources are
	binary.BigEndian.PutUint32(page1[24:], 99)
	binary.BigEndian.PutUint32(page1[28:], 3)
	binary.BigEndian.PutUint32(page1[92:], 99)
	page1[100] = 0x0d // the first byte after the header is left alone
	f := testFile(v, map[uint32][]byte{1: page1})

	buf := make([]byte, 4096)
	if n, err := f.ReadAt(buf, 0); n != 4096 || err != nil {
		t.Fatalf("ReadAt = %d, %v", n, err)
	}
	if string(buf[:16]) != "SQLite format 3\x00" || buf[18] != 1 || buf[19] != 1 || buf[100] != 0x0d {
		t.Errorf("header bytes 0-19 = %q, byte 100 = %#x", buf[:20], buf[100])
	}
	for _, field := range []struct {
		off  int
		want uint32
	}{{24, 7}, {28, 5}, {92, 7}} {
		if got := binary.BigEndian.Uint32(buf[field.off:]); got != field.want {
			t.Errorf("header field at %d = %d, want %d", field.off, got, field.want)
		}
	}
	if page1[18] != 2 || binary.BigEndian.Uint32(page1[24:]) != 99 {
		t.Error("patching the header changed the cached page")
	}

	// A read of part of the header is patched too.
	part := make([]byte, 8)
	if _, err := f.ReadAt(part, 22); err != nil {
		t.Fatal(err)
	}
	if got := binary.BigEndian.Uint32(part[2:]); got != 7 {
		t.Errorf("change counter read at offset 24 alone = %d, want 7", got)
	}
}

// The lock page (the page holding byte 2^30) is never stored; it reads as
// zeros, as do pages no file wrote. Reads past the end are short.
func TestReadAtLockPageAndEnd(t *testing.T) {
	lock := ltx.LockPgno(4096)
	x := ltxFile(0, 1, 1, lock+2, 1, lock+1)
	v := mustApply(t, &view{}, x)
	after := make([]byte, 4096)
	after[0] = 0xaa
	f := testFile(v, map[uint32][]byte{1: make([]byte, 4096), lock + 1: after})

	buf := make([]byte, 4096)
	for i := range buf {
		buf[i] = 0xff
	}
	if n, err := f.ReadAt(buf, int64(lock-1)*4096); n != 4096 || err != nil {
		t.Fatalf("ReadAt(lock page) = %d, %v", n, err)
	}
	for i, b := range buf {
		if b != 0 {
			t.Fatalf("lock page byte %d = %#x, want 0", i, b)
		}
	}
	if _, err := f.ReadAt(buf, int64(lock)*4096); err != nil || buf[0] != 0xaa {
		t.Errorf("page after the lock page: byte 0 = %#x, err %v", buf[0], err)
	}
	if n, err := f.ReadAt(buf, int64(lock+2)*4096); n != 0 || err != io.EOF {
		t.Errorf("ReadAt past the end = %d, %v; want 0, EOF", n, err)
	}
	if size, _ := f.FileSize(); size != int64(lock+2)*4096 {
		t.Errorf("FileSize = %d, want %d", size, int64(lock+2)*4096)
	}
}

// A SHARED lock pins the view; a newer view published meanwhile is seen
// only after the lock drops. Writing locks are refused.
func TestLockPinsTheView(t *testing.T) {
	v1 := mustApply(t, &view{}, ltxFile(0, 1, 1, 2, 1, 2))
	f := testFile(v1, nil)
	if err := f.Lock(sqlite3vfs.LockShared); err != nil {
		t.Fatal(err)
	}
	v2 := mustApply(t, v1, ltxFile(0, 2, 2, 3, 3))
	if !f.db.publish(v1, v2, []*replica.FileIndex{v2.lookup(3).file}) {
		t.Fatal("publish over the current view refused")
	}
	if got := f.current(); got != v1 {
		t.Errorf("under a SHARED lock the file reads TXID %s, want the pinned TXID 1", got.txid)
	}
	if err := f.Lock(sqlite3vfs.LockReserved); err != sqlite3vfs.ReadOnlyError {
		t.Errorf("Lock(RESERVED) = %v, want ReadOnlyError", err)
	}
	if err := f.Unlock(sqlite3vfs.LockNone); err != nil {
		t.Fatal(err)
	}
	if got := f.current(); got != v2 {
		t.Errorf("after unlocking the file reads TXID %s, want 2", got.txid)
	}
}
