// Package replica is the LTX layer of strata: it turns the files a storage
// backend lists into a restore plan, reads headers and page indexes with
// range requests, decodes single pages, and restores or imports whole
// databases. It knows nothing of SQLite's VFS; the vfs package builds on it.
package replica

import (
	"context"
	"fmt"
	"sync"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// Replica is one replica: a backend plus the retry policy used against it,
// and a cache of LTX headers (immutable once written, so never stale).
type Replica struct {
	Store storage.Backend
	Retry storage.RetryPolicy

	mu      sync.Mutex
	headers map[storage.FileKey]ltx.Header // guarded by mu
}

// New returns a Replica over store with the default retry policy.
func New(store storage.Backend) *Replica {
	return &Replica{Store: store, Retry: storage.DefaultRetry}
}

// String is the replica's URL.
func (r *Replica) String() string { return r.Store.String() }

// Files lists every LTX file of every level, level by level, concurrently.
func (r *Replica) Files(ctx context.Context) ([]storage.FileInfo, error) {
	var levels [storage.MaxLevel + 1][]storage.FileInfo
	g, gctx := errgroup.WithContext(ctx)
	for level := range levels {
		g.Go(func() (err error) {
			levels[level], err = r.List(gctx, level, 0)
			return err
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var all []storage.FileInfo
	for _, files := range levels {
		all = append(all, files...)
	}
	return all, nil
}

// List lists one level from a TXID on, with retries.
func (r *Replica) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	var files []storage.FileInfo
	err := r.Retry.Do(ctx, func() (err error) {
		files, err = r.Store.List(ctx, level, from)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("list level %d of %s: %w", level, r.Store, err)
	}
	return files, nil
}

// ReadAt reads exactly length bytes of f at off, with retries.
func (r *Replica) ReadAt(ctx context.Context, f storage.FileInfo, off, length int64) ([]byte, error) {
	return storage.ReadAt(ctx, r.Store, r.Retry, f, off, length)
}

func (r *Replica) cachedHeader(f storage.FileInfo) (ltx.Header, bool) {
	r.mu.Lock()
	defer r.mu.Unlock()
	h, ok := r.headers[f.Key()]
	return h, ok
}

func (r *Replica) rememberHeader(f storage.FileInfo, h ltx.Header) {
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.headers == nil {
		r.headers = make(map[storage.FileKey]ltx.Header)
	}
	r.headers[f.Key()] = h
}
