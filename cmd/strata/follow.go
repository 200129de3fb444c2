package main

import (
	"bytes"
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Follow mode (restore -f) keeps a restored file current: it polls the
// replica and applies each new LTX file to the file in place.
//
// The guarantee: a SQLite connection reading OUT always sees the
// database as of one TXID. Each update is one SQLite transaction as SQLite
// itself would write it in rollback-journal mode: the follower takes
// SQLite's EXCLUSIVE lock on OUT (so no reader is in a transaction while
// pages change), saves the pages it will overwrite in OUT-journal, writes,
// syncs, and deletes the journal. If the follower is killed mid-update,
// the next SQLite connection that opens OUT rolls the update back. OUT is
// put in rollback-journal mode for this (a WAL-mode reader would not see
// the follower's locks); it is for readers only: the next update would
// overwrite what another writer changes.

// followBatch bounds how much one update applies (files and bytes
// downloaded into memory); the rest follows at once in the next update.
const (
	followBatchFiles = 256
	followBatchBytes = 64 << 20
	// followLockWait is how long an update waits for readers to finish
	// their transactions (holding PENDING, which keeps new ones out)
	// before it lets them go on and tries again at the next poll.
	followLockWait = 2 * time.Second
)

// follower applies new LTX files to out. It owns f, OUT opened for the
// whole run: POSIX locks belong to the process and are dropped when any
// descriptor of the file closes, so OUT is opened nowhere else meanwhile.
type follower struct {
	r        *replica.Replica
	f        *os.File
	path     string
	txid     ltx.TXID
	pageSize uint32
	log      *slog.Logger
	stderr   io.Writer
	// crashAfter, when set by a test, stops an update after that many
	// page writes, as a kill -9 would (the journal stays).
	crashAfter int
}

var errTestCrash = errors.New("test: simulated crash")

// run polls every interval until ctx ends, then returns nil: OUT is
// always at a whole TXID between updates.
func (fl *follower) run(ctx context.Context, interval time.Duration) error {
	t := time.NewTicker(interval)
	defer t.Stop()
	failing := false
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-t.C:
		}
		for {
			more, err := fl.update(ctx)
			if ctx.Err() != nil {
				return nil
			}
			if errors.Is(err, errTestCrash) {
				return err
			}
			if err != nil {
				// Storage errors pass: the next poll tries again.
				if !failing {
					fmt.Fprintf(fl.stderr, "follow: %v (retrying every %s)\n", err, interval)
				}
				fl.log.Warn("follow: update failed", "txid", fl.txid, "err", err)
				failing = true
				break
			}
			if failing {
				fmt.Fprintf(fl.stderr, "follow: working again at TXID %s\n", fl.txid)
				failing = false
			}
			if !more {
				break
			}
		}
	}
}

// next returns the files that take OUT past its TXID: level-0 files that
// continue it, or, when level 0 has a gap (its files were compacted and
// removed before this follower saw them), the files of any level that
// cover it, each reaching as far as possible.
func (fl *follower) next(ctx context.Context) ([]storage.FileInfo, error) {
	l0, err := fl.r.List(ctx, 0, fl.txid+1)
	if err != nil {
		return nil, err
	}
	if len(l0) == 0 {
		return nil, nil
	}
	if chain := chainFrom(fl.txid, l0); len(chain) > 0 {
		return chain, nil
	}
	all, err := fl.r.Files(ctx)
	if err != nil {
		return nil, err
	}
	chain := chainFrom(fl.txid, all)
	if len(chain) == 0 {
		return nil, fmt.Errorf("no file continues TXID %s (level 0 resumes at %s and no compacted file covers the gap): restore again", fl.txid, l0[0].MinTXID)
	}
	return chain, nil
}

// chainFrom picks, from files, a chain that starts right after cur: at
// each step the file that covers the next TXID and reaches furthest (the
// smaller one on a tie). A file covering earlier TXIDs too is fine: it
// holds the newest version of every page changed in its range.
func chainFrom(cur ltx.TXID, files []storage.FileInfo) []storage.FileInfo {
	var chain []storage.FileInfo
	for {
		best := -1
		for i, f := range files {
			if f.MinTXID > cur+1 || f.MaxTXID <= cur {
				continue
			}
			if best < 0 || f.MaxTXID > files[best].MaxTXID || f.MaxTXID == files[best].MaxTXID && f.Size < files[best].Size {
				best = i
			}
		}
		if best < 0 {
			return chain
		}
		chain = append(chain, files[best])
		cur = files[best].MaxTXID
	}
}

// loaded is one downloaded and verified LTX file.
type loaded struct {
	file  storage.FileInfo
	data  []byte
	hdr   ltx.Header
	pages []uint32
}

// update applies the next batch of files as one transaction; more says
// further files are waiting.
func (fl *follower) update(ctx context.Context) (more bool, err error) {
	files, err := fl.next(ctx)
	if err != nil || len(files) == 0 {
		return false, err
	}
	var batch []loaded
	var size int64
	for _, f := range files {
		if len(batch) > 0 && (len(batch) >= followBatchFiles || size+f.Size > followBatchBytes) {
			more = true
			break
		}
		l, err := fl.load(ctx, f)
		if err != nil {
			return false, err
		}
		batch = append(batch, l)
		size += f.Size
	}
	unlock, err := sqliteWriteLock(fl.f, followLockWait)
	if errors.Is(err, errBusy) {
		fl.log.Info("follow: readers kept the database busy; trying again at the next poll", "txid", fl.txid)
		return false, nil
	}
	if err != nil {
		return false, err
	}
	defer unlock()
	from := fl.txid
	if err := fl.apply(batch); err != nil {
		return false, err
	}
	fl.txid = batch[len(batch)-1].hdr.MaxTXID
	fl.log.Info("follow: applied", "from", from, "to", fl.txid, "files", len(batch))
	fmt.Fprintf(fl.stderr, "follow: TXID %s -> %s (%d file(s))\n", from, fl.txid, len(batch))
	return more, nil
}

// load downloads f whole and verifies it (checksum, TXIDs, page size)
// before anything of it is written.
func (fl *follower) load(ctx context.Context, f storage.FileInfo) (loaded, error) {
	data, err := fl.r.ReadAt(ctx, f, 0, f.Size)
	if err != nil {
		return loaded{}, err
	}
	l := loaded{file: f, data: data}
	err = decodeLTX(data, func(hdr ltx.Header) error {
		l.hdr = hdr
		switch {
		case hdr.MinTXID != f.MinTXID || hdr.MaxTXID != f.MaxTXID:
			return fmt.Errorf("header says TXIDs %s-%s", hdr.MinTXID, hdr.MaxTXID)
		case hdr.PageSize != fl.pageSize:
			return fmt.Errorf("page size %d, the restored database has %d (restore again)", hdr.PageSize, fl.pageSize)
		}
		return nil
	}, func(pgno uint32, _ []byte) error {
		l.pages = append(l.pages, pgno)
		return nil
	})
	if err != nil {
		return loaded{}, fmt.Errorf("LTX file %s: %w", f, err)
	}
	return l, nil
}

// decodeLTX decodes a whole LTX file, calling hdrFn with its header and
// pageFn with each page, and verifies its checksum at the end.
func decodeLTX(data []byte, hdrFn func(ltx.Header) error, pageFn func(pgno uint32, page []byte) error) error {
	dec := ltx.NewDecoder(bytes.NewReader(data))
	if err := dec.DecodeHeader(); err != nil {
		return fmt.Errorf("header: %w", err)
	}
	hdr := dec.Header()
	if err := hdrFn(hdr); err != nil {
		return err
	}
	page := make([]byte, hdr.PageSize)
	for {
		var ph ltx.PageHeader
		if err := dec.DecodePage(&ph, page); err == io.EOF {
			break
		} else if err != nil {
			return fmt.Errorf("page: %w", err)
		}
		if err := pageFn(ph.Pgno, page); err != nil {
			return err
		}
	}
	if err := dec.Close(); err != nil {
		return fmt.Errorf("verify: %w", err)
	}
	return nil
}

// apply writes a verified batch into OUT as one journalled transaction.
// The caller holds SQLite's EXCLUSIVE lock.
func (fl *follower) apply(batch []loaded) error {
	st, err := fl.f.Stat()
	if err != nil {
		return err
	}
	ps := int64(fl.pageSize)
	origPages := uint32(st.Size() / ps)
	newPages := batch[len(batch)-1].hdr.Commit
	lockPage := uint32(pendingByte/ps) + 1

	// The journal holds every page that changes or disappears, and page 1,
	// whose header changes with every update.
	saved := map[uint32]bool{1: true}
	for _, l := range batch {
		for _, p := range l.pages {
			saved[p] = true
		}
	}
	for p := newPages + 1; p <= origPages; p++ {
		saved[p] = true
	}
	var pages []uint32
	for p := range saved {
		if p <= origPages && p != lockPage {
			pages = append(pages, p)
		}
	}
	slices.Sort(pages)
	journal := fl.path + "-journal"
	if err := writeJournal(journal, fl.f, fl.pageSize, origPages, pages); err != nil {
		return err
	}

	writes := 0
	for _, l := range batch {
		err := decodeLTX(l.data, func(ltx.Header) error { return nil }, func(pgno uint32, page []byte) error {
			if fl.crashAfter > 0 && writes == fl.crashAfter {
				return errTestCrash
			}
			writes++
			if _, err := fl.f.WriteAt(page, int64(pgno-1)*ps); err != nil {
				return fmt.Errorf("write page %d of %s: %w", pgno, fl.path, err)
			}
			return nil
		})
		if err != nil {
			if errors.Is(err, errTestCrash) {
				return err
			}
			// The journal stays: SQLite rolls the update back.
			return fmt.Errorf("apply %s (the update will be rolled back): %w", l.file, err)
		}
	}
	if err := fl.f.Truncate(int64(newPages) * ps); err != nil {
		return fmt.Errorf("truncate %s: %w", fl.path, err)
	}
	if err := markFollowed(fl.f, newPages); err != nil {
		return err
	}
	if err := fl.f.Sync(); err != nil {
		return fmt.Errorf("sync %s: %w", fl.path, err)
	}
	if err := os.Remove(journal); err != nil { // the commit
		return fmt.Errorf("commit: remove %s: %w", journal, err)
	}
	return syncDir(filepath.Dir(fl.path))
}

// markFollowed rewrites the header of page 1 for readers of a followed
// file: rollback-journal mode (bytes 18-19 = 1), a new file change counter
// (offset 24, which tells SQLite readers to drop their page cache) with
// the matching version-valid-for number (offset 92), and the database size
// in pages (offset 28).
func markFollowed(f *os.File, pages uint32) error {
	hdr := make([]byte, 100)
	if _, err := f.ReadAt(hdr, 0); err != nil {
		return fmt.Errorf("read the header of %s: %w", f.Name(), err)
	}
	if string(hdr[:16]) != "SQLite format 3\x00" {
		return fmt.Errorf("%s: page 1 is not a SQLite database header", f.Name())
	}
	hdr[18], hdr[19] = 1, 1
	counter := binary.BigEndian.Uint32(hdr[24:]) + 1
	binary.BigEndian.PutUint32(hdr[24:], counter)
	binary.BigEndian.PutUint32(hdr[28:], pages)
	binary.BigEndian.PutUint32(hdr[92:], counter)
	if _, err := f.WriteAt(hdr, 0); err != nil {
		return fmt.Errorf("write the header of %s: %w", f.Name(), err)
	}
	return nil
}

// pageSizeOf reads the page size from a SQLite header.
func pageSizeOf(f *os.File) (uint32, error) {
	var b [2]byte
	if _, err := f.ReadAt(b[:], 16); err != nil {
		return 0, err
	}
	ps := uint32(binary.BigEndian.Uint16(b[:]))
	if ps == 1 {
		ps = 65536
	}
	return ps, nil
}
