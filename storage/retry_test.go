package storage_test

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// quick retries without waiting long.
var quick = storage.RetryPolicy{Attempts: 4, Base: time.Millisecond, Max: 2 * time.Millisecond}

var errPermanent = errors.New("403 forbidden")

func TestRetryPolicyDo(t *testing.T) {
	transient := storage.Transient(errors.New("503 slow down"))
	tests := []struct {
		name   string
		policy storage.RetryPolicy
		errs   []error // what fn returns, call by call; nil after the end
		calls  int
		is     []error // the final error matches each (none: success)
	}{
		{name: "success at once", policy: quick, errs: nil, calls: 1},
		{name: "transient, then success", policy: quick, errs: []error{transient, transient}, calls: 3},
		{name: "unexpected EOF is transient", policy: quick, errs: []error{io.ErrUnexpectedEOF}, calls: 2},
		{name: "permanent error: no retry", policy: quick, errs: []error{errPermanent}, calls: 1, is: []error{errPermanent}},
		{name: "not found: no retry", policy: quick, errs: []error{fmt.Errorf("open x: %w", storage.ErrNotFound)}, calls: 1, is: []error{storage.ErrNotFound}},
		{name: "transient then permanent: stops at the permanent one", policy: quick, errs: []error{transient, errPermanent, transient}, calls: 2, is: []error{errPermanent}},
		{
			name: "transient every time: stops after Attempts", policy: quick,
			errs: []error{transient, transient, transient, transient, transient, transient}, calls: 4,
			is: []error{storage.ErrTransient},
		},
		{
			name:   "Attempts 0 still tries once",
			policy: storage.RetryPolicy{}, errs: []error{transient, transient}, calls: 1,
			is: []error{storage.ErrTransient},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			calls := 0
			err := tt.policy.Do(context.Background(), func() error {
				calls++
				if calls <= len(tt.errs) {
					return tt.errs[calls-1]
				}
				return nil
			})
			if calls != tt.calls {
				t.Errorf("fn called %d times, want %d", calls, tt.calls)
			}
			if len(tt.is) == 0 && err != nil {
				t.Errorf("Do() = %v, want success", err)
			}
			for _, target := range tt.is {
				if !errors.Is(err, target) {
					t.Errorf("Do() = %v, want an error matching %v", err, target)
				}
			}
		})
	}
}

func TestRetryPolicyGivesUpWithAttemptCount(t *testing.T) {
	err := quick.Do(context.Background(), func() error { return storage.Transient(errors.New("reset")) })
	if err == nil || !strings.Contains(err.Error(), "after 4 attempts") || !strings.Contains(err.Error(), "reset") {
		t.Fatalf("Do() = %v, want the last error and the number of attempts", err)
	}
}

// TestRetryPolicyContextCancel: cancelling the context during a backoff
// ends Do at once with both the last error and the cancellation.
func TestRetryPolicyContextCancel(t *testing.T) {
	ctx, cancel := context.WithCancel(context.Background())
	slow := storage.RetryPolicy{Attempts: 5, Base: time.Hour, Max: time.Hour}
	calls := 0
	done := make(chan error, 1)
	called := make(chan struct{})
	go func() {
		done <- slow.Do(ctx, func() error {
			calls++
			if calls == 1 {
				close(called)
			}
			return storage.Transient(errors.New("timeout"))
		})
	}()
	<-called
	cancel()
	select {
	case err := <-done:
		if !errors.Is(err, context.Canceled) || !errors.Is(err, storage.ErrTransient) {
			t.Errorf("Do() = %v, want an error matching both context.Canceled and the last error", err)
		}
		if calls != 1 {
			t.Errorf("fn called %d times after cancel, want 1", calls)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("Do did not return after its context was cancelled")
	}
}

func TestRetryPolicyBackoffIsCapped(t *testing.T) {
	p := storage.RetryPolicy{Attempts: 8, Base: time.Millisecond, Max: 4 * time.Millisecond}
	start := time.Now()
	_ = p.Do(context.Background(), func() error { return storage.Transient(errors.New("x")) })
	// 7 waits of at most 4 ms; without the cap, 1+2+...+64 ms/2 at least.
	if d := time.Since(start); d > time.Second {
		t.Errorf("8 attempts with a 4 ms cap took %s", d)
	}
}

func TestTransient(t *testing.T) {
	if storage.Transient(nil) != nil {
		t.Error("Transient(nil) != nil")
	}
	base := errors.New("connection reset")
	err := storage.Transient(base)
	if !storage.IsTransient(err) || !errors.Is(err, base) {
		t.Errorf("Transient(%v) = %v: not transient or lost its cause", base, err)
	}
	if again := storage.Transient(err); again != err {
		t.Errorf("Transient wrapped twice: %v", again)
	}
	if storage.IsTransient(base) || storage.IsTransient(errPermanent) || storage.IsTransient(storage.ErrNotFound) {
		t.Error("plain errors are reported as transient")
	}
	if !storage.IsTransient(fmt.Errorf("read: %w", io.ErrUnexpectedEOF)) {
		t.Error("a short body is not reported as transient")
	}
}

// flakyStore serves one file whose reads fail in scripted ways.
type flakyStore struct {
	data []byte
	// failures are consumed one per ReadRange: "short" returns a body cut
	// after 3 bytes, "error" a transient error, "denied" a permanent one.
	failures []string
	reads    atomic.Int64
	lists    atomic.Int64
}

func (s *flakyStore) next() string {
	n := int(s.reads.Add(1))
	if n <= len(s.failures) {
		return s.failures[n-1]
	}
	return ""
}

func (s *flakyStore) ReadRange(_ context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	body := s.data[off : off+length]
	switch s.next() {
	case "short":
		return io.NopCloser(bytes.NewReader(body[:3])), nil
	case "error":
		return nil, storage.Transient(fmt.Errorf("GET %s: 503", f))
	case "denied":
		return nil, fmt.Errorf("GET %s: %w", f, errPermanent)
	}
	return io.NopCloser(bytes.NewReader(body)), nil
}

func (s *flakyStore) List(context.Context, int, ltx.TXID) ([]storage.FileInfo, error) {
	if s.lists.Add(1) <= 2 {
		return nil, storage.Transient(errors.New("list: 500"))
	}
	return []storage.FileInfo{testFile}, nil
}

func (s *flakyStore) Write(context.Context, storage.FileInfo, time.Time, io.Reader) error {
	return errors.New("read-only")
}
func (s *flakyStore) Delete(context.Context, []storage.FileInfo) error {
	return errors.New("read-only")
}
func (s *flakyStore) Close() error   { return nil }
func (s *flakyStore) String() string { return "flaky://test" }

var testFile = storage.FileInfo{Level: 0, MinTXID: 7, MaxTXID: 7, Size: 64}

func TestReadAt(t *testing.T) {
	data := make([]byte, 64)
	for i := range data {
		data[i] = byte(i)
	}
	tests := []struct {
		name     string
		failures []string
		reads    int64
		is       error // nil: success
		mention  []string
	}{
		{name: "whole body at once", reads: 1},
		{name: "short bodies are retried", failures: []string{"short", "short"}, reads: 3},
		{name: "transient errors are retried", failures: []string{"error", "short", "error"}, reads: 4},
		{name: "a permanent error is not", failures: []string{"denied"}, reads: 1, is: errPermanent, mention: []string{"flaky://test", testFile.Name()}},
		{
			name: "short every time: gives up after Attempts", failures: []string{"short", "short", "short", "short", "short"}, reads: 4,
			is: storage.ErrTransient, mention: []string{"flaky://test", testFile.String(), "got 3 of 10 bytes"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			st := &flakyStore{data: data, failures: tt.failures}
			got, err := storage.ReadAt(context.Background(), st, quick, testFile, 20, 10)
			if n := st.reads.Load(); n != tt.reads {
				t.Errorf("%d reads, want %d", n, tt.reads)
			}
			if tt.is == nil {
				if err != nil || !bytes.Equal(got, data[20:30]) {
					t.Fatalf("ReadAt = %v, %v; want bytes 20..29", got, err)
				}
				return
			}
			if !errors.Is(err, tt.is) {
				t.Fatalf("ReadAt error %v, want one matching %v", err, tt.is)
			}
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
		})
	}
}

func TestListLevelRetries(t *testing.T) {
	st := &flakyStore{}
	files, err := storage.ListLevel(context.Background(), st, quick, 0, 0)
	if err != nil || len(files) != 1 || st.lists.Load() != 3 {
		t.Fatalf("ListLevel = %v, %v after %d lists; want the file after 3 lists", files, err, st.lists.Load())
	}
}

func TestFileInfoNames(t *testing.T) {
	f := storage.FileInfo{Level: 9, MinTXID: 1, MaxTXID: 0x2a}
	if got, want := f.Name(), "0000000000000001-000000000000002a.ltx"; got != want {
		t.Errorf("Name() = %q, want %q", got, want)
	}
	if got, want := f.String(), "L9/0000000000000001-000000000000002a.ltx"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	g := f
	g.Size, g.ModTime = 100, time.Now()
	if f.Key() != g.Key() {
		t.Error("Key depends on size or time")
	}
}
