package replica_test

import (
	"bytes"
	"context"
	"math/rand/v2"
	"testing"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// A file written by the Encoder reads back through the same path readers
// use (header and index from a tail read, pages by frame), and the index
// the encoder recorded is the one a reader builds.
func TestEncoderWritesWhatReadersRead(t *testing.T) {
	r := openDir(t, t.TempDir())
	ctx := context.Background()
	const pageSize = 1024
	rng := rand.New(rand.NewPCG(1, 2))
	pages := map[uint32][]byte{}
	var buf bytes.Buffer
	hdr := replica.FileHeader{PageSize: pageSize, Commit: 500, MinTXID: 7, MaxTXID: 9, Timestamp: time.UnixMilli(1_800_000_000_123), NodeID: 42}
	enc, err := replica.NewEncoder(&buf, hdr, true)
	if err != nil {
		t.Fatal(err)
	}
	for pgno := uint32(3); pgno <= 500; pgno += 7 {
		p := make([]byte, pageSize)
		for i := range p[:pageSize/2] { // half random, half zeros: compressible
			p[i] = byte(rng.Uint32())
		}
		pages[pgno] = p
		if err := enc.WritePage(pgno, p); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	if enc.Size() != int64(buf.Len()) {
		t.Errorf("Size = %d, wrote %d bytes", enc.Size(), buf.Len())
	}
	f := storage.FileInfo{Level: 0, MinTXID: 7, MaxTXID: 9, Size: int64(buf.Len())}
	if err := r.Store.Write(ctx, f, hdr.Timestamp, bytes.NewReader(buf.Bytes())); err != nil {
		t.Fatal(err)
	}
	read, err := r.Index(ctx, f)
	if err != nil {
		t.Fatal(err)
	}
	recorded := enc.Index(f)
	if read.Header != recorded.Header || read.Header.NodeID != 42 || read.Header.Flags != ltx.HeaderFlagNoChecksum {
		t.Errorf("header read %+v, recorded %+v", read.Header, recorded.Header)
	}
	if len(read.Frames) != len(pages) || len(recorded.Frames) != len(pages) {
		t.Fatalf("%d frames read, %d recorded, %d pages written", len(read.Frames), len(recorded.Frames), len(pages))
	}
	for i, fr := range read.Frames {
		if fr != recorded.Frames[i] {
			t.Errorf("frame %d: read %+v, recorded %+v", i, fr, recorded.Frames[i])
		}
		got, err := r.ReadPage(ctx, recorded, fr.Pgno)
		if err != nil {
			t.Fatal(err)
		}
		if !bytes.Equal(got, pages[fr.Pgno]) {
			t.Errorf("page %d differs", fr.Pgno)
		}
	}
}

// The encoder refuses what would make an invalid file: pages out of
// order, the lock page, pages past the database size.
func TestEncoderRefusesInvalidPages(t *testing.T) {
	page := make([]byte, 4096)
	for name, pgnos := range map[string][]uint32{
		"out of order": {5, 3},
		"repeated":     {5, 5},
		"lock page":    {ltx.LockPgno(4096)},
		"past Commit":  {ltx.LockPgno(4096) + 5},
	} {
		t.Run(name, func(t *testing.T) {
			enc, err := replica.NewEncoder(&bytes.Buffer{}, replica.FileHeader{PageSize: 4096, Commit: ltx.LockPgno(4096) + 2, MinTXID: 2, MaxTXID: 2, Timestamp: time.Now()}, false)
			if err != nil {
				t.Fatal(err)
			}
			defer enc.Abort()
			var last error
			for _, p := range pgnos {
				last = enc.WritePage(p, page)
			}
			if last == nil {
				t.Errorf("pages %v were accepted", pgnos)
			}
		})
	}
}
