package proxy

import (
	"bytes"
	"context"
	"io"
	"net/url"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/s3store"
)

// TestSigV4ThroughProxy checks that signed S3 requests survive the proxy:
// the client signs for the proxy's address, and versitygw verifies it.
func TestSigV4ThroughProxy(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "proxy")
	p, err := New(srv.Endpoint(), Options{Latency: 5 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	defer p.Close()

	st := throughProxy(t, srv, p, bucket)
	ctx := context.Background()
	f := storage.FileInfo{Level: 0, MinTXID: 2, MaxTXID: 2}
	data := bytes.Repeat([]byte("strata"), 1000)
	if err := st.Write(ctx, f, time.Now(), bytes.NewReader(data)); err != nil {
		t.Fatalf("write through proxy: %v", err)
	}
	rc, err := st.ReadRange(ctx, f, 6, 12)
	if err != nil {
		t.Fatalf("range read through proxy: %v", err)
	}
	got, err := io.ReadAll(rc)
	rc.Close()
	if err != nil || string(got) != "stratastrata" {
		t.Fatalf("range read: %q, %v", got, err)
	}
	// Large enough for the SDK to send Expect: 100-continue.
	big := storage.FileInfo{Level: 0, MinTXID: 3, MaxTXID: 3}
	if err := st.Write(ctx, big, time.Now(), bytes.NewReader(make([]byte, 3<<20))); err != nil {
		t.Fatalf("3 MiB write through proxy: %v", err)
	}
	files, err := st.List(ctx, 0, 0)
	if err != nil || len(files) != 2 {
		t.Fatalf("list: %v, %v", files, err)
	}
	s := p.Stats()
	if s.ByMethod["PUT"] != 2 || s.RangeGETs != 1 || s.Lists != 1 || s.Errors != 0 {
		t.Errorf("stats %+v", s)
	}
	if s.RequestBytes < int64(len(data))+3<<20 || s.ResponseBytes < 12 {
		t.Errorf("bytes: sent %d, received %d", s.RequestBytes, s.ResponseBytes)
	}
}

// throughProxy opens the replica bucket/p on srv, addressed via the proxy.
func throughProxy(t *testing.T, srv *testenv.S3Server, p *Proxy, bucket string) storage.Backend {
	t.Helper()
	u, err := url.Parse(srv.URL(bucket, "p"))
	if err != nil {
		t.Fatal(err)
	}
	q := u.Query()
	q.Set("endpoint", p.URL())
	u.RawQuery = q.Encode()
	creds := credentials.NewStaticCredentialsProvider(testenv.AccessKey, testenv.SecretKey, "")
	st, err := s3store.OpenWithOptions(context.Background(), u, config.WithCredentialsProvider(creds))
	if err != nil {
		t.Fatal(err)
	}
	return st
}
