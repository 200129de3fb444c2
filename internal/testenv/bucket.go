package testenv

import (
	"context"
	"fmt"
	"net/url"
	"regexp"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/storage/s3store"
)

var credentialsProvider = credentials.NewStaticCredentialsProvider(AccessKey, SecretKey, "")

func newClient(endpoint string) *s3.Client {
	return s3.New(s3.Options{
		Region:                     Region,
		BaseEndpoint:               aws.String(endpoint),
		UsePathStyle:               true,
		Credentials:                credentialsProvider,
		RequestChecksumCalculation: aws.RequestChecksumCalculationWhenRequired,
		ResponseChecksumValidation: aws.ResponseChecksumValidationWhenRequired,
	})
}

// Client is an S3 client for the server, logged in as the root account.
func (s *S3Server) Client() *s3.Client { return s.client }

// URL is the replica URL of prefix in bucket on this server.
func (s *S3Server) URL(bucket, prefix string) string { return s.URLVia(s.endpoint, bucket, prefix) }

// URLVia is URL with requests sent to endpoint (a proxy in front of the
// server).
func (s *S3Server) URLVia(endpoint, bucket, prefix string) string {
	return fmt.Sprintf("s3://%s/%s?endpoint=%s&region=%s&force-path-style=true",
		bucket, strings.Trim(prefix, "/"), endpoint, Region)
}

// Env holds the variables that let a child process (or the AWS SDK) log in
// to the server; append it to os.Environ().
func (s *S3Server) Env() []string {
	return []string{
		"AWS_ACCESS_KEY_ID=" + AccessKey,
		"AWS_SECRET_ACCESS_KEY=" + SecretKey,
		"AWS_SESSION_TOKEN=", // a stale token would break signing
	}
}

// SetEnv sets Env in this process for the duration of the test. Like
// t.Setenv, it cannot be used in parallel tests; prefer Store there.
func (s *S3Server) SetEnv(t testing.TB) {
	t.Helper()
	for _, kv := range s.Env() {
		k, v, _ := strings.Cut(kv, "=")
		t.Setenv(k, v)
	}
}

// Store opens the replica at prefix in bucket with the server's
// credentials, without touching the process environment; it is closed
// when the test ends.
func (s *S3Server) Store(t testing.TB, bucket, prefix string) *s3store.Store {
	t.Helper()
	return s.StoreVia(t, s.endpoint, bucket, prefix)
}

// StoreVia is Store with requests sent to endpoint instead of the server
// itself: a proxy in front of it (see FaultProxy).
func (s *S3Server) StoreVia(t testing.TB, endpoint, bucket, prefix string) *s3store.Store {
	t.Helper()
	st, err := openStore(context.Background(), s.URLVia(endpoint, bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}

// OpenStore is Store for callers outside tests; close the store when done.
func (s *S3Server) OpenStore(ctx context.Context, bucket, prefix string) (*s3store.Store, error) {
	return openStore(ctx, s.URL(bucket, prefix))
}

func openStore(ctx context.Context, rawURL string) (*s3store.Store, error) {
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, err
	}
	return s3store.OpenWithOptions(ctx, u, config.WithCredentialsProvider(credentialsProvider))
}

// CreateBucket creates a new, empty bucket whose name starts with name
// (made valid for S3) and is unique in this process; it returns the name.
func (s *S3Server) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	bucket, err := s.NewBucket(context.Background(), name)
	if err != nil {
		t.Fatal(err)
	}
	return bucket
}

var bucketSeq atomic.Int64

var (
	invalidBucketChars = regexp.MustCompile(`[^a-z0-9-]+`)
	dashes             = regexp.MustCompile(`-+`) // Azure refuses "--" in container names
)

// uniqueBucket makes a bucket (or container) name valid for S3, GCS and
// Azure from name, unique in this process.
func uniqueBucket(name string) string {
	base := strings.Trim(invalidBucketChars.ReplaceAllString(strings.ToLower(name), "-"), "-")
	if len(base) > 40 {
		base = strings.TrimRight(base[:40], "-")
	}
	return dashes.ReplaceAllString(fmt.Sprintf("b-%s-%d", base, bucketSeq.Add(1)), "-")
}

// NewBucket is CreateBucket for callers outside tests.
func (s *S3Server) NewBucket(ctx context.Context, name string) (string, error) {
	bucket := uniqueBucket(name)
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateBucket(ctx, &s3.CreateBucketInput{Bucket: aws.String(bucket)}); err != nil {
		return "", fmt.Errorf("create bucket %s on %s: %w", bucket, s.endpoint, err)
	}
	return bucket, nil
}
