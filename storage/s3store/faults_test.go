package s3store_test

import (
	"context"
	"errors"
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/s3store"
)

// quick retries without waiting long: the storage layer's policy, as the
// replica layer applies it.
var quick = storage.RetryPolicy{Attempts: 4, Base: 10 * time.Millisecond, Max: 50 * time.Millisecond}

const stallTimeout = 300 * time.Millisecond

// faulty opens a replica holding one 64 KiB file through a fault-injecting
// proxy in front of versitygw, with a short request timeout.
func faulty(t *testing.T) (*testenv.FaultProxy, *s3store.Store, storage.FileInfo, []byte) {
	t.Helper()
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, t.Name())
	f := fi(0, 1, 1)
	data := make([]byte, 64<<10)
	for i := range data {
		data[i] = byte(i * 7)
	}
	if err := srv.Store(t, bucket, "db").Write(context.Background(), f, time.Now(), strings.NewReader(string(data))); err != nil {
		t.Fatal(err)
	}
	px := testenv.NewFaultProxy(t, srv.Endpoint())
	u, _ := url.Parse(srv.URLVia(px.URL, bucket, "db") + "&timeout=" + stallTimeout.String())
	st, err := s3store.OpenWithOptions(context.Background(), u,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testenv.AccessKey, testenv.SecretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return px, st, f, data
}

// Transient faults of every kind are retried, and the read returns the
// right bytes; each fault costs one attempt (the SDK does not retry them
// again underneath).
func TestFaultsAreRetried(t *testing.T) {
	for _, fault := range []testenv.Fault{testenv.StallAnswer, testenv.StallBody, testenv.Reset, testenv.ServerError, testenv.IgnoreRange, testenv.ShiftRange} {
		t.Run(fault.String(), func(t *testing.T) {
			px, st, f, data := faulty(t)
			px.Inject(fault, 2)
			start := time.Now()
			got, err := storage.ReadAt(context.Background(), st, quick, f, 1000, 5000)
			if err != nil {
				t.Fatalf("ReadAt with 2 %s faults: %v", fault, err)
			}
			if string(got) != string(data[1000:6000]) {
				t.Fatal("wrong bytes")
			}
			if px.Pending() != 0 || px.Faulted() != 2 {
				t.Errorf("%d faults injected, %d pending; want 2, 0", px.Faulted(), px.Pending())
			}
			if d := time.Since(start); d > 5*stallTimeout+time.Second {
				t.Errorf("took %v", d)
			}
		})
	}
}

// A server that never stops ignoring Range is reported, after the
// retries, as the server's fault (not as corrupt data).
func TestIgnoredRangeIsAServerFault(t *testing.T) {
	px, st, f, _ := faulty(t)
	px.Inject(testenv.IgnoreRange, 100)
	_, err := storage.ReadAt(context.Background(), st, quick, f, 1000, 5000)
	if !errors.Is(err, storage.ErrServerFault) || !strings.Contains(err.Error(), "server fault") || !strings.Contains(err.Error(), "after 4 attempts") {
		t.Fatalf("ReadAt against a server ignoring Range: %v; want a server fault after 4 attempts", err)
	}
	t.Log(err)
	if px.Faulted() != 4 {
		t.Errorf("%d requests, want 4 (one per attempt)", px.Faulted())
	}
}

// A server that accepts connections and never answers makes an operation
// fail after attempts × timeout, not hang; the error says it stalled and
// how to wait longer.
func TestStalledServerIsBounded(t *testing.T) {
	px, st, _, _ := faulty(t)
	px.Inject(testenv.StallAnswer, 100)
	start := time.Now()
	_, err := storage.ListLevel(context.Background(), st, quick, 0, 0)
	took := time.Since(start)
	if !storage.IsTransient(err) || !strings.Contains(err.Error(), "server stalled") || !strings.Contains(err.Error(), "timeout=") {
		t.Fatalf("List against a stalled server: %v; want a stall error saying how to wait longer", err)
	}
	t.Log(err)
	if px.Faulted() != 4 {
		t.Errorf("%d requests, want 4 (one per attempt)", px.Faulted())
	}
	if took < 4*stallTimeout || took > 4*stallTimeout+2*time.Second {
		t.Errorf("gave up after %v, want about 4 × %v", took, stallTimeout)
	}
}

// A body that stalls halfway is cut and the read retried from the start.
func TestStalledBodyIsCut(t *testing.T) {
	px, st, f, data := faulty(t)
	px.Inject(testenv.StallBody, 1)
	got, err := storage.ReadAt(context.Background(), st, quick, f, 0, int64(len(data)))
	if err != nil || string(got) != string(data) {
		t.Fatalf("ReadAt with a stalled body: %v", err)
	}
}
