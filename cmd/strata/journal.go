package main

import (
	"bufio"
	"encoding/binary"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
)

// A rollback journal in SQLite's own format (the "rollback journal"
// section of https://www.sqlite.org/fileformat.html) makes each update
// that follow mode writes into the database atomic: the original of every
// page about to change is saved in OUT-journal and synced before the
// database is touched, and deleting the journal commits. If the process
// dies in between, the journal is "hot": the next SQLite connection that
// opens the file rolls it back, so no reader ever sees half an update.

var journalMagic = [8]byte{0xd9, 0xd5, 0x05, 0xf9, 0x20, 0xa1, 0x63, 0xd7}

// journalSectorSize is the header size written (a power of two >= 32;
// SQLite reads records after that many bytes).
const journalSectorSize = 512

// journalChecksum is SQLite's checksum of one journalled page: the nonce
// plus every 200th byte, counting down from pageSize-200 (byte 0 excluded).
func journalChecksum(nonce uint32, page []byte) uint32 {
	sum := nonce
	for i := len(page) - 200; i > 0; i -= 200 {
		sum += uint32(page[i])
	}
	return sum
}

// writeJournal saves the current content of pages (each <= origPages) of
// db into a new journal at path, then syncs it and its directory: once it
// returns, the pages may be overwritten.
func writeJournal(path string, db *os.File, pageSize, origPages uint32, pages []uint32) (err error) {
	j, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return fmt.Errorf("create journal: %w", err)
	}
	defer func() {
		if cerr := j.Close(); err == nil {
			err = cerr
		}
		if err != nil {
			os.Remove(path)
		}
	}()
	if st, serr := db.Stat(); serr == nil {
		j.Chmod(st.Mode().Perm()) // readers that may roll it back can read it
	}
	nonce := rand.Uint32()
	hdr := make([]byte, journalSectorSize)
	copy(hdr, journalMagic[:])
	binary.BigEndian.PutUint32(hdr[8:], uint32(len(pages)))
	binary.BigEndian.PutUint32(hdr[12:], nonce)
	binary.BigEndian.PutUint32(hdr[16:], origPages)
	binary.BigEndian.PutUint32(hdr[20:], journalSectorSize)
	binary.BigEndian.PutUint32(hdr[24:], pageSize)
	w := bufio.NewWriterSize(j, 1<<20)
	w.Write(hdr)
	page := make([]byte, pageSize)
	var num [4]byte
	for _, pgno := range pages {
		if pgno == 0 || pgno > origPages {
			return fmt.Errorf("journal: page %d outside the database's %d pages", pgno, origPages)
		}
		if _, err := db.ReadAt(page, int64(pgno-1)*int64(pageSize)); err != nil {
			return fmt.Errorf("journal: read page %d of %s: %w", pgno, db.Name(), err)
		}
		binary.BigEndian.PutUint32(num[:], pgno)
		w.Write(num[:])
		w.Write(page)
		binary.BigEndian.PutUint32(num[:], journalChecksum(nonce, page))
		w.Write(num[:])
	}
	if err := w.Flush(); err != nil {
		return fmt.Errorf("write journal: %w", err)
	}
	if err := j.Sync(); err != nil {
		return fmt.Errorf("sync journal: %w", err)
	}
	return syncDir(filepath.Dir(path))
}

func syncDir(dir string) error {
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	if err := d.Sync(); err != nil {
		return fmt.Errorf("sync directory %s: %w", dir, err)
	}
	return nil
}
