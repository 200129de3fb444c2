package vfs

import "fmt"

// PollNow runs one poll of the open replica at url, as the poller does on
// its tick. Tests that call it open the replica with a poll interval far
// longer than the test, so that they alone decide when polls happen.
func (v *VFS) PollNow(url string) error {
	db, ok := v.Database(url)
	if !ok {
		return fmt.Errorf("replica %s is not open", url)
	}
	return db.Poll(db.Context())
}
