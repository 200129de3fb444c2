// Package replica is the LTX layer of strata: it turns the files a storage
// backend lists into a restore plan, reads headers and page indexes with
// range requests, decodes single pages, and restores or imports whole
// databases. It knows nothing of SQLite's VFS; the vfs package builds on it.
package replica

import (
	"context"
	"fmt"
	"sort"
	"sync"

	lru "github.com/hashicorp/golang-lru/v2"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// Replica is one replica: a backend plus the retry policy used against it,
// and a cache of LTX headers (immutable once written, so never stale).
type Replica struct {
	Store storage.Backend
	Retry storage.RetryPolicy

	cacheOnce sync.Once
	headers   *lru.Cache[storage.FileKey, ltx.Header] // bounded: a reader indexes files forever
	verified  *lru.Cache[storage.FileKey, ltx.Header] // files Verify read whole and found intact
}

// headerCacheSize bounds the header cache: enough for the binary searches
// of time travel over a long history.
const headerCacheSize = 16384

// New returns a Replica over store with the default retry policy.
func New(store storage.Backend) *Replica {
	return &Replica{Store: store, Retry: storage.DefaultRetry}
}

// String is the replica's URL.
func (r *Replica) String() string { return r.Store.String() }

// Files lists every LTX file of every level: in one pass where the backend
// can, else level by level, concurrently.
func (r *Replica) Files(ctx context.Context) ([]storage.FileInfo, error) {
	if al, ok := r.Store.(storage.AllLister); ok {
		var files []storage.FileInfo
		err := r.Retry.Do(ctx, func() (err error) {
			files, err = al.ListAll(ctx)
			return err
		})
		if err != nil {
			return nil, fmt.Errorf("list %s: %w", r.Store, err)
		}
		sort.SliceStable(files, func(i, j int) bool { return files[i].Level < files[j].Level })
		return files, nil
	}
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

// verifiedCacheSize bounds the memory of files verified whole: time
// travel verifies the few files its decision rests on, each time it is
// asked, and should not download them again.
const verifiedCacheSize = 1024

func (r *Replica) initCaches() {
	r.cacheOnce.Do(func() {
		r.headers, _ = lru.New[storage.FileKey, ltx.Header](headerCacheSize)
		r.verified, _ = lru.New[storage.FileKey, ltx.Header](verifiedCacheSize)
	})
}

func (r *Replica) headerCache() *lru.Cache[storage.FileKey, ltx.Header] {
	r.initCaches()
	return r.headers
}

func (r *Replica) verifiedCache() *lru.Cache[storage.FileKey, ltx.Header] {
	r.initCaches()
	return r.verified
}

func (r *Replica) cachedHeader(f storage.FileInfo) (ltx.Header, bool) {
	return r.headerCache().Get(f.Key())
}

func (r *Replica) rememberHeader(f storage.FileInfo, h ltx.Header) {
	r.headerCache().Add(f.Key(), h)
}
