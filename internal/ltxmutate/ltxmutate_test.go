package ltxmutate_test

import (
	"bytes"
	"math/rand/v2"
	"testing"

	"github.com/strata-db/strata/internal/ltxmutate"
	"github.com/superfly/ltx"
)

// encoded is a file written by the ltx package's own encoder.
func encoded(t *testing.T) []byte {
	t.Helper()
	var buf bytes.Buffer
	enc, err := ltx.NewEncoder(&buf)
	if err != nil {
		t.Fatal(err)
	}
	hdr := ltx.Header{Version: ltx.Version, Flags: ltx.HeaderFlagNoChecksum, PageSize: 512, Commit: 9, MinTXID: 3, MaxTXID: 4, Timestamp: 1e12}
	if err := enc.EncodeHeader(hdr); err != nil {
		t.Fatal(err)
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for _, pgno := range []uint32{2, 5, 9} {
		page := make([]byte, 512)
		for i := range page[:100] { // half compressible
			page[i] = byte(rng.Uint32())
		}
		if err := enc.EncodePage(ltx.PageHeader{Pgno: pgno}, page); err != nil {
			t.Fatal(err)
		}
	}
	if err := enc.Close(); err != nil {
		t.Fatal(err)
	}
	return buf.Bytes()
}

// Decode then Encode gives back the encoder's bytes; Reseal leaves an
// intact file as it is; the regions of Layout tile the file.
func TestRoundTrip(t *testing.T) {
	b := encoded(t)
	f, err := ltxmutate.Decode(b)
	if err != nil {
		t.Fatal(err)
	}
	if got := ltxmutate.Encode(f); !bytes.Equal(got, b) {
		t.Errorf("Encode(Decode(b)) differs from b (%d vs %d bytes)", len(got), len(b))
	}
	if got, err := ltxmutate.Reseal(b); err != nil || !bytes.Equal(got, b) {
		t.Errorf("Reseal of an intact file changed it (%v)", err)
	}
	regions, err := ltxmutate.Layout(b)
	if err != nil {
		t.Fatal(err)
	}
	off, frames := 0, 0
	for _, r := range regions {
		if r.Off != off {
			t.Fatalf("region %s starts at %d, want %d", r.Name, r.Off, off)
		}
		off += r.Len
		if r.Kind == ltxmutate.FrameData {
			frames++
		}
	}
	if off != len(b) || frames != 3 {
		t.Errorf("regions cover %d of %d bytes with %d frames, want all and 3", off, len(b), frames)
	}
}

// A forged file (pages out of order, beyond Commit) still has a valid
// checksum: only consistency checks can tell.
func TestForgedFilePassesTheChecksum(t *testing.T) {
	f, err := ltxmutate.Decode(encoded(t))
	if err != nil {
		t.Fatal(err)
	}
	f.Pages[0].Pgno, f.Pages[1].Pgno = f.Pages[1].Pgno, f.Pages[0].Pgno
	b := ltxmutate.Encode(f)
	dec := ltx.NewDecoder(bytes.NewReader(b))
	if err := dec.Verify(); err == nil {
		t.Fatal("the ltx decoder accepts pages out of order")
	} else if err == ltx.ErrChecksumMismatch {
		t.Fatalf("the forged file's checksum is wrong: %v", err)
	}
	// Header edits resealed pass the checksum.
	b = encoded(t)
	b[12]++ // Commit
	sealed, err := ltxmutate.Reseal(b)
	if err != nil {
		t.Fatal(err)
	}
	if err := ltx.NewDecoder(bytes.NewReader(sealed)).Verify(); err != nil {
		t.Errorf("a resealed header edit does not verify: %v", err)
	}
}
