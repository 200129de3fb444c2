package vfs

import (
	"fmt"

	"github.com/strata-db/strata/storage/backends"
)

// PollNow runs one poll of the open replica at url, as the poller does on
// its tick. Tests that call it open the replica with a poll interval far
// longer than the test, so that they alone decide when polls happen.
func (v *VFS) PollNow(url string) error {
	key, err := backends.Canonical(url)
	if err != nil {
		return err
	}
	v.mu.Lock()
	e, ok := v.dbs[key]
	v.mu.Unlock()
	if !ok || e.db == nil {
		return fmt.Errorf("replica %s is not open", url)
	}
	return e.db.poll(e.db.ctx)
}
