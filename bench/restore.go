package bench

import (
	"context"
	"database/sql"
	"fmt"
	"os"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
)

// OpenRestored is the restore-then-query baseline OpenFunc: it downloads
// the whole database into a temporary file, then opens that with plain
// SQLite. cacheBytes is ignored. It shows what the VFS saves by not
// downloading everything, and lets the harness run without a VFS.
func OpenRestored(replicaURL string, cacheBytes int64) (*sql.DB, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	store, err := backends.Open(ctx, replicaURL)
	if err != nil {
		return nil, err
	}
	r := replica.New(store)
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		return nil, err
	}
	// The harness gives each child run its own TMPDIR and removes it.
	f, err := os.CreateTemp("", "restored-*.db")
	if err != nil {
		return nil, err
	}
	defer f.Close()
	if err := r.Restore(ctx, plan, f, replica.RestoreOptions{}); err != nil {
		return nil, fmt.Errorf("restore %s: %w", replicaURL, err)
	}
	return sql.Open("sqlite3", "file:"+f.Name()+"?mode=ro")
}
