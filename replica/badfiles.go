package replica

import (
	"sync"
	"time"

	"github.com/strata-db/strata/storage"
)

// BadFiles remembers the files found corrupt so that plans leave them out,
// but only for a while: once its wait is over a file is planned with (and
// so checked) again, since what looked corrupt may have been a fault on
// the way or a file since replaced. Each time a file is found corrupt
// again its wait doubles, up to a limit. A file whose size in a listing
// differs from the size it had when it was found corrupt is a new file,
// and is planned with at once.
//
// The methods are safe for concurrent use, and a nil *BadFiles holds no
// file.
type BadFiles struct {
	first, limit time.Duration
	now          func() time.Time // time.Now; tests move it

	mu    sync.Mutex // guards files
	files map[storage.FileKey]badFile
}

type badFile struct {
	size  int64         // the file's size when found corrupt
	until time.Time     // left out of plans until then
	wait  time.Duration // the last wait given
}

// Default waits of NewBadFiles.
const (
	DefaultBadWait    = time.Minute
	DefaultBadWaitMax = time.Hour
)

// NewBadFiles returns an empty set whose files are left out for wait
// (0: DefaultBadWait) the first time, and at most limit (0:
// DefaultBadWaitMax) however often they are found corrupt again.
func NewBadFiles(wait, limit time.Duration) *BadFiles {
	if wait <= 0 {
		wait = DefaultBadWait
	}
	if limit <= 0 {
		limit = DefaultBadWaitMax
	}
	return &BadFiles{first: wait, limit: max(limit, wait), now: time.Now, files: make(map[storage.FileKey]badFile)}
}

// Add records that f was found corrupt. Found again after its last wait
// ran out, it waits twice as long; found again while still waiting
// (another reader noticed at the same time), nothing changes.
func (b *BadFiles) Add(f storage.FileInfo) {
	b.mu.Lock()
	defer b.mu.Unlock()
	now := b.now()
	cur, ok := b.files[f.Key()]
	wait := b.first
	if ok && cur.size == f.Size {
		if now.Before(cur.until) {
			return
		}
		wait = min(cur.wait*2, b.limit)
	}
	b.files[f.Key()] = badFile{size: f.Size, until: now.Add(wait), wait: wait}
}

// Contains reports whether plans should leave f out now.
func (b *BadFiles) Contains(f storage.FileInfo) bool {
	if b == nil {
		return false
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.leftOut(f, b.now())
}

// leftOut reports whether f waits at now; b.mu is held.
func (b *BadFiles) leftOut(f storage.FileInfo, now time.Time) bool {
	cur, ok := b.files[f.Key()]
	return ok && cur.size == f.Size && now.Before(cur.until)
}

// Forget drops f: it was found intact.
func (b *BadFiles) Forget(f storage.FileInfo) {
	if b == nil {
		return
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	delete(b.files, f.Key())
}

// Len is how many files are left out now.
func (b *BadFiles) Len() int {
	if b == nil {
		return 0
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	now, n := b.now(), 0
	for _, cur := range b.files {
		if now.Before(cur.until) {
			n++
		}
	}
	return n
}

// Filter returns files without those left out now (files itself when
// none is).
func (b *BadFiles) Filter(files []storage.FileInfo) []storage.FileInfo {
	if b == nil {
		return files
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	if len(b.files) == 0 {
		return files
	}
	now := b.now()
	var out []storage.FileInfo
	for i, f := range files {
		if !b.leftOut(f, now) {
			if out != nil {
				out = append(out, f)
			}
			continue
		}
		if out == nil {
			out = append(make([]storage.FileInfo, 0, len(files)), files[:i]...)
		}
	}
	if out == nil {
		return files
	}
	return out
}
