package vfs

import (
	"encoding/binary"
	"testing"

	"github.com/strata-db/strata/engine"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// SQLite reads page 1 through the VFS with the header patched: rollback
// journal mode (bytes 18-19 = 1), and the change counter, the
// version-valid-for number and the in-header size following the view, so
// that SQLite drops its cache whenever the state moved.
func TestPatchHeaderFollowsTheView(t *testing.T) {
	x := &replica.FileIndex{
		File:   storage.FileInfo{Level: 0, MinTXID: 1, MaxTXID: 7},
		Header: ltx.Header{Version: ltx.Version, PageSize: 4096, Commit: 5, MinTXID: 1, MaxTXID: 7},
		Frames: []replica.Frame{
			{Pgno: 1, Offset: ltx.HeaderSize, Size: 100}, {Pgno: 2, Offset: ltx.HeaderSize + 100, Size: 100},
			{Pgno: 3, Offset: ltx.HeaderSize + 200, Size: 100}, {Pgno: 4, Offset: ltx.HeaderSize + 300, Size: 100},
			{Pgno: 5, Offset: ltx.HeaderSize + 400, Size: 100},
		},
	}
	v, err := engine.BuildView([]*replica.FileIndex{x})
	if err != nil {
		t.Fatal(err)
	}
	page1 := make([]byte, 4096)
	copy(page1, "SQLite format 3\x00")
	page1[18], page1[19] = 2, 2 // WAL, as Litestream's sources are
	binary.BigEndian.PutUint32(page1[24:], 99)
	binary.BigEndian.PutUint32(page1[28:], 3)
	binary.BigEndian.PutUint32(page1[92:], 99)
	page1[100] = 0x0d // the first byte after the header is left alone

	buf := append([]byte(nil), page1...)
	patchHeader(buf, 0, v)
	if string(buf[:16]) != "SQLite format 3\x00" || buf[18] != 1 || buf[19] != 1 || buf[100] != 0x0d {
		t.Errorf("header bytes 0-19 = %q, byte 100 = %#x", buf[:20], buf[100])
	}
	for _, field := range []struct {
		off  int
		want uint32
	}{{24, v.ChangeCounter()}, {28, 5}, {92, v.ChangeCounter()}} {
		if got := binary.BigEndian.Uint32(buf[field.off:]); got != field.want {
			t.Errorf("header field at %d = %d, want %d", field.off, got, field.want)
		}
	}

	// A read of part of the header is patched too.
	part := append([]byte(nil), page1[22:30]...)
	patchHeader(part, 22, v)
	if got := binary.BigEndian.Uint32(part[2:]); got != v.ChangeCounter() {
		t.Errorf("change counter read at offset 24 alone = %d, want %d", got, v.ChangeCounter())
	}
}
