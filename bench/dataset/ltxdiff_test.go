package dataset

import (
	"bytes"
	"context"
	"io"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// image makes a database image of n pages, page i filled with byte i.
func image(n int, pageSize uint32) []byte {
	b := make([]byte, n*int(pageSize))
	for i := range n {
		copy(b[i*int(pageSize):], bytes.Repeat([]byte{byte(i + 1)}, int(pageSize)))
	}
	return b
}

// decodeAll decodes an LTX file and returns its header and pages.
func decodeAll(t *testing.T, r io.Reader) (ltx.Header, map[uint32][]byte, []uint32) {
	t.Helper()
	dec := ltx.NewDecoder(r)
	if err := dec.DecodeHeader(); err != nil {
		t.Fatal(err)
	}
	pages := map[uint32][]byte{}
	var order []uint32
	for {
		var ph ltx.PageHeader
		data := make([]byte, dec.Header().PageSize)
		if err := dec.DecodePage(&ph, data); err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		pages[ph.Pgno] = data
		order = append(order, ph.Pgno)
	}
	if err := dec.Close(); err != nil {
		t.Fatalf("close decoder (checksums): %v", err)
	}
	return dec.Header(), pages, order
}

func TestDiffEncodeDecode(t *testing.T) {
	const ps = 512
	before := image(4, ps)
	after := append(bytes.Clone(before), image(6, ps)[4*ps:]...) // pages 5, 6 added
	after[2*ps+7] ^= 0xff                                        // page 3 changed
	pages := DiffPages(before, after, ps)
	if len(pages) != 3 || pages[0].Pgno != 3 || pages[1].Pgno != 5 || pages[2].Pgno != 6 {
		t.Fatalf("diff: %v", pgnos(pages))
	}

	ts := time.UnixMilli(1_700_000_000_123)
	// Out of order on purpose: EncodeTxn must sort.
	txn := Txn{TXID: 7, PageSize: ps, Commit: 6, Timestamp: ts, Pages: []Page{pages[2], pages[0], pages[1]}}
	var buf bytes.Buffer
	if err := EncodeTxn(&buf, txn); err != nil {
		t.Fatal(err)
	}
	hdr, got, order := decodeAll(t, &buf)
	if hdr.MinTXID != 7 || hdr.MaxTXID != 7 || hdr.Commit != 6 || hdr.PageSize != ps ||
		hdr.Timestamp != ts.UnixMilli() || !hdr.NoChecksum() {
		t.Errorf("header %+v", hdr)
	}
	if len(order) != 3 || order[0] != 3 || order[1] != 5 || order[2] != 6 {
		t.Errorf("decoded pages in order %v, want [3 5 6]", order)
	}
	for _, p := range pages {
		if !bytes.Equal(got[p.Pgno], after[int(p.Pgno-1)*ps:int(p.Pgno)*ps]) {
			t.Errorf("page %d differs after decoding", p.Pgno)
		}
	}
}

func TestEncodeSkipsLockPageAndPagesPastCommit(t *testing.T) {
	const ps = 65536 // the lock page is then page 16385
	lock := ltx.LockPgno(ps)
	page := bytes.Repeat([]byte{9}, ps)
	txn := Txn{TXID: 2, PageSize: ps, Commit: lock + 1, Timestamp: time.Now(),
		Pages: []Page{{1, page}, {lock, page}, {lock + 1, page}, {lock + 2, page}}}
	var buf bytes.Buffer
	if err := EncodeTxn(&buf, txn); err != nil {
		t.Fatal(err)
	}
	_, _, order := decodeAll(t, &buf)
	if len(order) != 2 || order[0] != 1 || order[1] != lock+1 {
		t.Errorf("decoded pages %v, want [1 %d]", order, lock+1)
	}
}

func TestWriteTxnToStore(t *testing.T) {
	store, err := filestore.New(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	page := bytes.Repeat([]byte{1}, 1024)
	ts := time.Now()
	f, err := WriteTxn(context.Background(), store, Txn{TXID: 3, PageSize: 1024, Commit: 1, Timestamp: ts, Pages: []Page{{1, page}}})
	if err != nil {
		t.Fatal(err)
	}
	if f.Level != 0 || f.MinTXID != 3 || f.MaxTXID != 3 {
		t.Errorf("file %s", f)
	}
	rc, err := store.ReadRange(context.Background(), f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	hdr, pages, _ := decodeAll(t, rc)
	if hdr.MinTXID != 3 || !bytes.Equal(pages[1], page) {
		t.Errorf("read back header %+v, page 1 ok=%v", hdr, bytes.Equal(pages[1], page))
	}
}

func TestPageHashes(t *testing.T) {
	const ps = 1024
	path := filepath.Join(t.TempDir(), "db")
	img := image(3, ps)
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	h, err := NewPageHashes(path, ps)
	if err != nil {
		t.Fatal(err)
	}
	img[ps+1] ^= 1                            // page 2 changes
	img = append(img, image(4, ps)[3*ps:]...) // page 4 appears
	if err := os.WriteFile(path, img, 0o644); err != nil {
		t.Fatal(err)
	}
	changed, n, err := h.Update(path)
	if err != nil {
		t.Fatal(err)
	}
	if n != 4 || len(changed) != 2 || changed[0].Pgno != 2 || changed[1].Pgno != 4 {
		t.Fatalf("changed %v of %d pages, want [2 4] of 4", pgnos(changed), n)
	}
	if !bytes.Equal(changed[0].Data, img[ps:2*ps]) {
		t.Error("page 2 data")
	}
	if changed, _, _ := h.Update(path); len(changed) != 0 {
		t.Errorf("nothing changed, got %v", pgnos(changed))
	}
}

func pgnos(pages []Page) []uint32 {
	var n []uint32
	for _, p := range pages {
		n = append(n, p.Pgno)
	}
	return n
}
