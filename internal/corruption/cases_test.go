package corruption_test

import (
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"slices"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/ltxmutate"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// damage is one case of the suite: file gets data (a file of the replica
// damaged, or a junk file added).
type damage struct {
	class string // flip, truncate, forge, junk
	name  string
	file  storage.FileInfo
	data  []byte
	// frameData marks a flip inside the LZ4 data of a frame of a file read
	// by range: the block format has no checksum of its own, so a query
	// can only notice when the flip breaks the block's structure (see
	// README, "What strata verifies"). Restore verifies every byte.
	frameData bool
	// chainOnly marks a forged file that is consistent in itself, wrong
	// only against the state before it (it grows the database without
	// the pages it adds): a reader sees it with replica.FileIndex.CheckAfter
	// (restore does; the VFS does once its page map calls it).
	chainOnly bool
}

// cases lists every damage the suite applies to the files of c.
func cases(t testing.TB, c *corpus) []damage {
	t.Helper()
	var out []damage
	for _, f := range c.files {
		b, err := os.ReadFile(fileName(c.dir, f))
		if err != nil {
			t.Fatal(err)
		}
		out = append(out, flips(t, f, b)...)
		out = append(out, truncations(t, f, b)...)
		out = append(out, forgeries(t, c, f, b)...)
	}
	return append(out, junkFiles(c)...)
}

// keep selects the regions worth damaging: all of a small file, and of a
// large file the header, index and trailer and the frames of four pages
// (first, second, middle, last).
func keep(regions []ltxmutate.Region, large bool) []ltxmutate.Region {
	if !large {
		return regions
	}
	frames := 0
	for _, r := range regions {
		if r.Kind == ltxmutate.FramePgno {
			frames++
		}
	}
	chosen := []int{0, 1, frames / 2, frames - 1}
	var out []ltxmutate.Region
	for _, r := range regions {
		switch r.Kind {
		case ltxmutate.FramePgno, ltxmutate.FrameFlags, ltxmutate.FrameSize, ltxmutate.FrameData:
			if !slices.Contains(chosen, r.Frame) {
				continue
			}
		}
		out = append(out, r)
	}
	return out
}

func layout(t testing.TB, f storage.FileInfo, b []byte) []ltxmutate.Region {
	t.Helper()
	regions, err := ltxmutate.Layout(b)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	return keep(regions, len(b) > readWhole)
}

// flips inverts one bit at the first and last byte of every region, and
// at more places inside frame data.
func flips(t testing.TB, f storage.FileInfo, b []byte) []damage {
	large := len(b) > readWhole
	var out []damage
	for _, r := range layout(t, f, b) {
		at := []int{r.Off}
		if r.Len > 1 {
			at = append(at, r.Off+r.Len-1)
		}
		if r.Kind == ltxmutate.FrameData {
			for k := 1; k <= 5; k++ {
				at = append(at, r.Off+r.Len*k/6)
			}
		}
		for i, off := range at {
			bit := uint(i*3) % 8
			out = append(out, damage{
				class: "flip", name: fmt.Sprintf("%s: bit %d of byte %d (%s)", f, bit, off, r.Name),
				file: f, data: ltxmutate.Flip(b, off, bit),
				frameData: large && r.Kind == ltxmutate.FrameData,
			})
		}
	}
	return out
}

// truncations cut the file at every boundary between regions, one byte
// into each, and one byte short of the end.
func truncations(t testing.TB, f storage.FileInfo, b []byte) []damage {
	cuts := []int{0, 1, len(b) - 1}
	for _, r := range layout(t, f, b) {
		cuts = append(cuts, r.Off, r.Off+1)
	}
	slices.Sort(cuts)
	var out []damage
	for _, n := range slices.Compact(cuts) {
		if n >= len(b) {
			continue
		}
		out = append(out, damage{class: "truncate", name: fmt.Sprintf("%s: cut to %d of %d bytes", f, n, len(b)), file: f, data: b[:n:n]})
	}
	return out
}

// forgeries rewrite the file with a valid checksum and wrong content:
// what only consistency checks can catch. Not cases: forgeries that make
// a valid file of another change (two pages' bytes swapped under their
// own numbers, a page the database already had left out, another
// commit's pages under this name). No reader can tell those from the
// real file without a checksum of the database state, which Litestream
// 0.5 does not write (HeaderFlagNoChecksum).
func forgeries(t testing.TB, c *corpus, f storage.FileInfo, b []byte) []damage {
	file, err := ltxmutate.Decode(b)
	if err != nil {
		t.Fatalf("%s: %v", f, err)
	}
	rng := rand.New(rand.NewPCG(uint64(f.MaxTXID), 3))
	var out []damage
	chainOnly := false
	add := func(name string, edit func(*ltxmutate.File) bool) {
		g := ltxmutate.File{Header: file.Header, PostApply: file.PostApply, Pages: slices.Clone(file.Pages)}
		if edit(&g) {
			out = append(out, damage{class: "forge", name: f.String() + ": " + name, file: f, data: ltxmutate.Encode(g), chainOnly: chainOnly})
		}
	}
	n := len(file.Pages)
	add("page numbers of the first two frames swapped", func(g *ltxmutate.File) bool {
		if n < 2 {
			return false
		}
		g.Pages[0], g.Pages[1] = ltxmutate.Page{Pgno: g.Pages[1].Pgno, Data: g.Pages[0].Data}, ltxmutate.Page{Pgno: g.Pages[0].Pgno, Data: g.Pages[1].Data}
		return true
	})
	for _, dc := range []struct {
		name  string
		delta func(uint32) uint32
	}{
		{"Commit + 1", func(c uint32) uint32 { return c + 1 }},
		{"Commit + 1000", func(c uint32) uint32 { return c + 1000 }},
		{"Commit 2^31 (an 8 TiB database)", func(uint32) uint32 { return 1 << 31 }},
		{"Commit 0xFFFFFFFE (the largest)", func(uint32) uint32 { return 0xFFFFFFFE }},
		{"Commit - 1", func(c uint32) uint32 { return c - 1 }},
	} {
		add(dc.name, func(g *ltxmutate.File) bool {
			g.Header.Commit = dc.delta(g.Header.Commit)
			return g.Header.Commit != file.Header.Commit
		})
	}
	// A page left out of a file that changes pages the database already
	// has makes a valid file of another change; one left out of a
	// complete database, or that the file adds, is a hole.
	prev := uint32(0)
	if i := slices.IndexFunc(c.files, func(x storage.FileInfo) bool { return x.Key() == f.Key() }); i > 0 && file.Header.MinTXID > 1 {
		pb, err := os.ReadFile(fileName(c.dir, c.files[i-1]))
		if err != nil {
			t.Fatal(err)
		}
		prev = binary.BigEndian.Uint32(pb[12:]) // the Commit of the state before
	}
	for _, which := range []struct {
		name string
		i    int
	}{{"first", 0}, {"middle", n / 2}, {"last", n - 1}} {
		if n < 2 || file.Pages[which.i].Pgno <= prev {
			continue
		}
		chainOnly = file.Header.MinTXID > 1 && which.i > 0 // page 1 itself is checked on its own
		add(which.name+" page left out", func(g *ltxmutate.File) bool {
			g.Pages = slices.Delete(g.Pages, which.i, which.i+1)
			return true
		})
		chainOnly = false
	}
	add("a page twice", func(g *ltxmutate.File) bool {
		g.Pages = slices.Insert(g.Pages, n/2, g.Pages[n/2])
		return true
	})
	add("a page beyond Commit", func(g *ltxmutate.File) bool {
		page := make([]byte, g.Header.PageSize)
		for i := range page {
			page[i] = byte(rng.Uint32())
		}
		g.Pages = append(g.Pages, ltxmutate.Page{Pgno: g.Header.Commit + 1, Data: page})
		return true
	})
	add("the TXIDs of the next file", func(g *ltxmutate.File) bool {
		g.Header.MinTXID, g.Header.MaxTXID = g.Header.MinTXID+1, g.Header.MaxTXID+1
		return true
	})
	add("page size doubled", func(g *ltxmutate.File) bool {
		g.Header.PageSize *= 2
		for i := range g.Pages {
			g.Pages[i].Data = append(slices.Clone(g.Pages[i].Data), make([]byte, len(g.Pages[i].Data))...)
		}
		return true
	})
	add("timestamp a year later", func(g *ltxmutate.File) bool {
		g.Header.Timestamp += 365 * 24 * 3600 * 1000
		return true
	})
	return out
}

// junkFiles are bytes that are no LTX file, named like LTX files: as the
// next commit, past a gap, as a compacted file over the chain, as a
// snapshot.
func junkFiles(c *corpus) []damage {
	junk := []byte(strings.Repeat("this is not an LTX file. ", 40))
	header := append([]byte(nil), junk...)
	copy(header, "LTX1") // a magic, then garbage
	binary.BigEndian.PutUint32(header[8:], 4096)
	var out []damage
	for _, j := range []struct {
		name  string
		level int
		lo    ltx.TXID
		hi    ltx.TXID
		data  []byte
	}{
		{"junk as the next commit", 0, c.latest + 1, c.latest + 1, junk},
		{"junk past a gap", 0, c.latest + 5, c.latest + 5, junk},
		{"junk as a compacted file over the chain", 2, 1, c.latest - 1, junk},
		{"junk as a snapshot", storage.SnapshotLevel, 1, c.latest, header},
		{"an empty file as a compacted file", 1, 2, c.latest, nil},
	} {
		f := storage.FileInfo{Level: j.level, MinTXID: j.lo, MaxTXID: j.hi, Size: int64(len(j.data))}
		out = append(out, damage{class: "junk", name: f.String() + ": " + j.name, file: f, data: j.data})
	}
	return out
}
