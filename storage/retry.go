package storage

import (
	"context"
	"fmt"
	"io"
	"math/rand/v2"
	"time"

	"github.com/superfly/ltx"
)

// RetryPolicy says how often and how patiently transient errors are retried.
type RetryPolicy struct {
	Attempts int           // total tries, at least 1
	Base     time.Duration // first backoff; doubles each time
	Max      time.Duration // cap on one backoff
}

// DefaultRetry suits object storage: about 6 s of patience in all.
var DefaultRetry = RetryPolicy{Attempts: 6, Base: 100 * time.Millisecond, Max: 2 * time.Second}

// Do runs fn until it succeeds, fails permanently, or the attempts run out.
// Only errors for which IsTransient is true are retried.
func (p RetryPolicy) Do(ctx context.Context, fn func() error) error {
	attempts := max(p.Attempts, 1)
	var err error
	for i := range attempts {
		if err = fn(); err == nil || !IsTransient(err) {
			return err
		}
		if i == attempts-1 {
			break
		}
		if werr := p.wait(ctx, i); werr != nil {
			return fmt.Errorf("%w (gave up: %w)", err, werr)
		}
	}
	return fmt.Errorf("after %d attempts: %w", attempts, err)
}

func (p RetryPolicy) wait(ctx context.Context, attempt int) error {
	d := p.Base << attempt
	if p.Max > 0 && (d > p.Max || d <= 0) {
		d = p.Max
	}
	// Full jitter keeps many readers from retrying in lockstep.
	d = d/2 + time.Duration(rand.Int64N(int64(d/2)+1))
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}

// ReadAt reads exactly length bytes of f at off, retrying transient
// failures and short bodies.
func ReadAt(ctx context.Context, b Backend, p RetryPolicy, f FileInfo, off, length int64) ([]byte, error) {
	if off < 0 || length < 0 {
		return nil, fmt.Errorf("read %s: invalid range (offset %d, length %d)", f, off, length)
	}
	var buf []byte
	err := p.Do(ctx, func() error {
		rc, err := b.ReadRange(ctx, f, off, length)
		if err != nil {
			return err
		}
		defer rc.Close()
		buf = make([]byte, length)
		n, err := io.ReadFull(rc, buf)
		if err != nil {
			return Transient(fmt.Errorf("read %s at %d: got %d of %d bytes: %w", f, off, n, length, err))
		}
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", b, err)
	}
	return buf, nil
}

// ListLevel lists a level with retries.
func ListLevel(ctx context.Context, b Backend, p RetryPolicy, level int, from ltx.TXID) ([]FileInfo, error) {
	var files []FileInfo
	err := p.Do(ctx, func() (err error) {
		files, err = b.List(ctx, level, from)
		return err
	})
	return files, err
}
