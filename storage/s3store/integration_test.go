package s3store_test

import (
	"bytes"
	"context"
	"crypto/sha256"
	"errors"
	"fmt"
	"io"
	"math/rand/v2"
	"net/url"
	"os"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/credentials"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/s3store"
	"github.com/strata-db/strata/storage/storagetest"
	"github.com/superfly/ltx"
)

func newStore(t *testing.T, prefix string) (*testenv.S3Server, *s3store.Store) {
	t.Helper()
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, t.Name())
	return srv, srv.Store(t, bucket, prefix)
}

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

func write(t *testing.T, st storage.Backend, f storage.FileInfo, data string) {
	t.Helper()
	if err := st.Write(context.Background(), f, time.Now(), strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

func readRange(t *testing.T, st storage.Backend, f storage.FileInfo, off, n int64) string {
	t.Helper()
	rc, err := st.ReadRange(context.Background(), f, off, n)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	b, err := io.ReadAll(rc)
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

func names(files []storage.FileInfo) string {
	var s []string
	for _, f := range files {
		s = append(s, f.String())
	}
	return strings.Join(s, " ")
}

func list(t *testing.T, st storage.Backend, level int, from ltx.TXID) []storage.FileInfo {
	t.Helper()
	files, err := st.List(context.Background(), level, from)
	if err != nil {
		t.Fatal(err)
	}
	return files
}

func TestRoundTrip(t *testing.T) {
	srv, st := newStore(t, "db/")
	ctx := context.Background()
	start := time.Now().Add(-time.Minute)
	write(t, st, fi(0, 2, 2), "second")
	write(t, st, fi(0, 1, 1), "first file")
	write(t, st, fi(1, 1, 2), "compacted")
	write(t, st, fi(9, 1, 2), "snapshot")
	// Stray objects in a level are not LTX files and must be ignored.
	_, err := srv.Client().PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(st.Bucket()), Key: aws.String("db/0000/notes.txt"), Body: strings.NewReader("x"),
	})
	if err != nil {
		t.Fatal(err)
	}

	files := list(t, st, 0, 0)
	if got, want := names(files), "L0/0000000000000001-0000000000000001.ltx L0/0000000000000002-0000000000000002.ltx"; got != want {
		t.Fatalf("List(0) = %s, want %s", got, want)
	}
	if files[0].Size != int64(len("first file")) || files[0].ModTime.Before(start) {
		t.Errorf("List(0)[0] = %+v: wrong size or time", files[0])
	}
	if got := names(list(t, st, 9, 0)); got != "L9/0000000000000001-0000000000000002.ltx" {
		t.Errorf("List(9) = %s", got)
	}
	if got := names(list(t, st, 3, 0)); got != "" {
		t.Errorf("List(3) of an empty level = %s", got)
	}

	for _, tc := range []struct {
		off, n int64
		want   string
	}{{0, -1, "first file"}, {6, -1, "file"}, {0, 5, "first"}, {6, 2, "fi"}} {
		if got := readRange(t, st, fi(0, 1, 1), tc.off, tc.n); got != tc.want {
			t.Errorf("ReadRange(%d, %d) = %q, want %q", tc.off, tc.n, got, tc.want)
		}
	}

	if err := st.Delete(ctx, []storage.FileInfo{fi(0, 1, 1), fi(0, 7, 7), fi(1, 1, 2)}); err != nil {
		t.Fatalf("Delete: %v", err)
	}
	if got := names(list(t, st, 0, 0)); got != "L0/0000000000000002-0000000000000002.ltx" {
		t.Errorf("List(0) after delete = %s", got)
	}
	if got := names(list(t, st, 1, 0)); got != "" {
		t.Errorf("List(1) after delete = %s", got)
	}
}

func TestKeysUseS3Layout(t *testing.T) {
	srv, st := newStore(t, "mydb")
	write(t, st, fi(0, 0x2a, 0x2a), "x")
	write(t, st, fi(9, 1, 0x2a), "x")
	out, err := srv.Client().ListObjectsV2(context.Background(), &s3.ListObjectsV2Input{Bucket: aws.String(st.Bucket())})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, *o.Key)
	}
	want := "mydb/0000/000000000000002a-000000000000002a.ltx mydb/0009/0000000000000001-000000000000002a.ltx"
	if got := strings.Join(keys, " "); got != want {
		t.Errorf("keys = %s, want %s", got, want)
	}
}

func TestListFrom(t *testing.T) {
	_, st := newStore(t, "")
	for i := ltx.TXID(1); i <= 5; i++ {
		write(t, st, fi(0, i, i), "x")
	}
	write(t, st, fi(0, 3, 4), "x") // same minTXID as from, larger range
	write(t, st, fi(0, 2, 9), "x") // starts before from: excluded
	if got, want := names(list(t, st, 0, 3)),
		"L0/0000000000000003-0000000000000003.ltx L0/0000000000000003-0000000000000004.ltx "+
			"L0/0000000000000004-0000000000000004.ltx L0/0000000000000005-0000000000000005.ltx"; got != want {
		t.Errorf("List(0, 3) = %s\nwant %s", got, want)
	}
	if got := len(list(t, st, 0, 6)); got != 0 {
		t.Errorf("List(0, 6) returned %d files", got)
	}
	if got := len(list(t, st, 0, 1)); got != 7 {
		t.Errorf("List(0, 1) returned %d files, want 7", got)
	}
}

// More than one page of listing and more than one DeleteObjects batch.
func TestListAndDeleteManyFiles(t *testing.T) {
	if testing.Short() {
		t.Skip("uploads 1,010 objects")
	}
	_, st := newStore(t, "many")
	const n = 1010
	var files []storage.FileInfo
	for i := ltx.TXID(1); i <= n; i++ {
		files = append(files, fi(0, i, i))
	}
	parallel(t, files, func(f storage.FileInfo) error {
		return st.Write(context.Background(), f, time.Time{}, strings.NewReader("x"))
	})
	got := list(t, st, 0, 0)
	if len(got) != n || got[n-1].MaxTXID != n {
		t.Fatalf("List returned %d files, want %d", len(got), n)
	}
	if got := list(t, st, 0, n-4); len(got) != 5 || got[0].MinTXID != n-4 {
		t.Errorf("List(from %d) = %s", n-4, names(got))
	}
	if err := st.Delete(context.Background(), files); err != nil {
		t.Fatal(err)
	}
	if got := list(t, st, 0, 0); len(got) != 0 {
		t.Errorf("%d files left after Delete", len(got))
	}
}

func parallel(t *testing.T, files []storage.FileInfo, fn func(storage.FileInfo) error) {
	t.Helper()
	var wg sync.WaitGroup
	errs := make(chan error, len(files))
	sem := make(chan struct{}, 16)
	for _, f := range files {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer wg.Done()
			defer func() { <-sem }()
			errs <- fn(f)
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		if err != nil {
			t.Fatal(err)
		}
	}
}

func TestReadMissing(t *testing.T) {
	_, st := newStore(t, "db")
	_, err := st.ReadRange(context.Background(), fi(0, 5, 5), 0, 10)
	if !errors.Is(err, storage.ErrNotFound) || storage.IsTransient(err) {
		t.Fatalf("ReadRange of a missing file: %v; want ErrNotFound, not transient", err)
	}
	if want := "s3://" + st.Bucket() + "/db/0000/0000000000000005-0000000000000005.ltx"; !strings.Contains(err.Error(), want) {
		t.Errorf("error %q does not name %s", err, want)
	}
}

func TestMissingBucket(t *testing.T) {
	srv := testenv.VersityGW(t)
	st := srv.Store(t, "no-such-bucket", "db")
	_, err := st.List(context.Background(), 0, 0)
	if err == nil || storage.IsTransient(err) || !strings.Contains(err.Error(), "bucket no-such-bucket does not exist") {
		t.Fatalf("List on a missing bucket: %v", err)
	}
}

func TestWrongCredentials(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "creds")
	for _, tc := range []struct{ key, secret, want string }{
		{"nobody", testenv.SecretKey, "check AWS_ACCESS_KEY_ID"},
		{testenv.AccessKey, "wrong-secret", "check AWS_SECRET_ACCESS_KEY"},
	} {
		u, _ := url.Parse(srv.URL(bucket, "db"))
		st, err := s3store.OpenWithOptions(context.Background(), u,
			config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(tc.key, tc.secret, "")))
		if err != nil {
			t.Fatal(err)
		}
		defer st.Close()
		begin := time.Now()
		_, err = st.ReadRange(context.Background(), fi(0, 1, 1), 0, 1)
		if err == nil || storage.IsTransient(err) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("key %q secret %q: error %v; want permanent, mentioning %q", tc.key, tc.secret, err, tc.want)
		}
		if !strings.Contains(fmt.Sprint(err), "s3://"+bucket+"/db/0000/") {
			t.Errorf("error %v does not name the object", err)
		}
		if d := time.Since(begin); d > 3*time.Second {
			t.Errorf("took %v to fail", d)
		}
	}
}

func TestUnreachableEndpoint(t *testing.T) {
	addr := testenv.ClosedAddr(t)
	u, _ := url.Parse("s3://bkt/db?endpoint=http://" + addr)
	st, err := s3store.OpenWithOptions(context.Background(), u,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider("k", "s", "")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	begin := time.Now()
	_, err = st.List(context.Background(), 0, 0)
	if !storage.IsTransient(err) || !strings.Contains(err.Error(), "connection refused") {
		t.Errorf("List against a closed port: %v; want a transient connection-refused error", err)
	}
	if d := time.Since(begin); d > 5*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

func TestTimestampMetadata(t *testing.T) {
	srv, st := newStore(t, "db")
	ctx := context.Background()
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123_000_000, time.FixedZone("x", 3600))
	if err := st.Write(ctx, fi(0, 1, 1), ts, strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	if err := st.Write(ctx, fi(0, 2, 2), time.Time{}, strings.NewReader("data")); err != nil {
		t.Fatal(err)
	}
	if got := metadata(t, srv, st, fi(0, 1, 1)); got != "2026-11-24T09:00:00.123Z" {
		t.Errorf("litestream-timestamp = %q", got)
	}
	if got := metadata(t, srv, st, fi(0, 2, 2)); got != "" {
		t.Errorf("litestream-timestamp of a zero time = %q, want none", got)
	}
}

func metadata(t *testing.T, srv *testenv.S3Server, st *s3store.Store, f storage.FileInfo) string {
	t.Helper()
	out, err := srv.Client().HeadObject(context.Background(), &s3.HeadObjectInput{
		Bucket: aws.String(st.Bucket()), Key: aws.String(st.Key(f)),
	})
	if err != nil {
		t.Fatal(err)
	}
	return out.Metadata[s3store.TimestampKey]
}

// randReader yields n deterministic pseudo-random bytes without holding
// them in memory.
func randReader(n int64) io.Reader {
	return io.LimitReader(rand.NewChaCha8([32]byte{1}), n)
}

func TestLargeWrite(t *testing.T) {
	srv, st := newStore(t, "big")
	ctx := context.Background()
	const size = 20<<20 + 12345
	f := fi(9, 1, 100)
	ts := time.UnixMilli(1795558469816)
	if err := st.Write(ctx, f, ts, randReader(size)); err != nil {
		t.Fatal(err)
	}
	files := list(t, st, 9, 0)
	if len(files) != 1 || files[0].Size != size {
		t.Fatalf("List after large write = %+v", files)
	}
	want, got := sha256.New(), sha256.New()
	io.Copy(want, randReader(size))
	rc, err := st.ReadRange(ctx, f, 0, -1)
	if err != nil {
		t.Fatal(err)
	}
	defer rc.Close()
	if _, err := io.Copy(got, rc); err != nil {
		t.Fatal(err)
	}
	if !bytes.Equal(want.Sum(nil), got.Sum(nil)) {
		t.Error("content read back differs from content written")
	}
	if got := metadata(t, srv, st, f); got != ts.UTC().Format(time.RFC3339Nano) {
		t.Errorf("litestream-timestamp of a multipart upload = %q", got)
	}
	tail := readRange(t, st, f, size-10, 10)
	wantTail, _ := io.ReadAll(io.LimitReader(randReader(size), size))
	if tail != string(wantTail[size-10:]) {
		t.Error("range read at the end of a large file is wrong")
	}
}

// A failing source must not leave a half-written object behind.
func TestWriteSourceError(t *testing.T) {
	_, st := newStore(t, "db")
	src := io.MultiReader(randReader(9<<20), iotestErrReader{})
	err := st.Write(context.Background(), fi(0, 1, 1), time.Now(), src)
	if err == nil || !strings.Contains(err.Error(), "read source") {
		t.Fatalf("Write with a failing source: %v", err)
	}
	if got := list(t, st, 0, 0); len(got) != 0 {
		t.Errorf("a failed write left %s", names(got))
	}
}

type iotestErrReader struct{}

func (iotestErrReader) Read([]byte) (int, error) { return 0, errors.New("disk on fire") }

// Open reads credentials from the environment, with AWS_CA_BUNDLE set as
// on machines with a corporate CA, and the SDK prints nothing.
func TestOpenFromEnvironmentIsQuiet(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "env")
	srv.SetEnv(t)
	if _, err := os.Stat("/etc/ssl/certs/ca-certificates.crt"); err == nil {
		t.Setenv("AWS_CA_BUNDLE", "/etc/ssl/certs/ca-certificates.crt")
	}
	output := captureOutput(t)
	u, _ := url.Parse(srv.URL(bucket, "db"))
	b, err := s3store.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	write(t, b, fi(0, 1, 1), "hello")
	if got := readRange(t, b, fi(0, 1, 1), 1, 3); got != "ell" {
		t.Errorf("ReadRange = %q", got)
	}
	if err := b.Write(context.Background(), fi(9, 1, 1), time.Now(), randReader(9<<20)); err != nil {
		t.Fatal(err)
	}
	if err := b.Delete(context.Background(), list(t, b, 0, 0)); err != nil {
		t.Fatal(err)
	}
	if out := output(); out != "" {
		t.Errorf("the SDK printed:\n%s", out)
	}
	if s := b.String(); strings.Contains(s, testenv.SecretKey) || !strings.HasPrefix(s, "s3://"+bucket+"/db?endpoint=") {
		t.Errorf("String() = %q", s)
	}
}

// captureOutput redirects os.Stdout and os.Stderr until the returned
// function is called; it returns what was written.
func captureOutput(t *testing.T) func() string {
	t.Helper()
	r, w, err := os.Pipe()
	if err != nil {
		t.Fatal(err)
	}
	stdout, stderr := os.Stdout, os.Stderr
	os.Stdout, os.Stderr = w, w
	done := make(chan string)
	go func() {
		b, _ := io.ReadAll(r)
		done <- string(b)
	}()
	var once sync.Once
	var out string
	restore := func() string {
		once.Do(func() {
			os.Stdout, os.Stderr = stdout, stderr
			w.Close()
			out = <-done
		})
		return out
	}
	t.Cleanup(func() { restore() })
	return restore
}

// The shop fixture, copied to S3 by testenv.CopyFixtureToS3, lands in
// Litestream's S3 layout: every file at its level, each object carrying
// its header's commit time as litestream-timestamp, byte for byte.
func TestCopyFixture(t *testing.T) {
	shop := fixture.Load(t, fixture.Shop)
	files, err := fixture.ListFiles(shop.Replica())
	if err != nil {
		t.Fatal(err)
	}
	srv, st := newStore(t, "shop")
	testenv.CopyFixtureToS3(t, srv, st.Bucket(), "shop", shop.Replica())
	var want, got []string
	for _, f := range files {
		want = append(want, f.String())
	}
	for level := 0; level <= storage.SnapshotLevel; level++ {
		if n := names(list(t, st, level, 0)); n != "" {
			got = append(got, n)
		}
	}
	if strings.Join(got, " ") != strings.Join(want, " ") {
		t.Fatalf("on S3:\n%s\nin the fixture:\n%s", strings.Join(got, " "), strings.Join(want, " "))
	}
	for _, f := range files {
		h, err := fixture.ReadHeader(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		info := fi(f.Level, f.MinTXID, f.MaxTXID)
		if key := st.Key(info); key != fmt.Sprintf("shop/%04x/%s", f.Level, f.Name()) {
			t.Errorf("%s is at key %s, not in Litestream's S3 layout", f, key)
		}
		ts := metadata(t, srv, st, info)
		if at, err := time.Parse(time.RFC3339Nano, ts); err != nil || !at.Equal(time.UnixMilli(h.Timestamp)) {
			t.Errorf("%s: litestream-timestamp = %q (%v), header says %s", f, ts, err, time.UnixMilli(h.Timestamp).UTC())
		}
		b, err := os.ReadFile(f.Path)
		if err != nil {
			t.Fatal(err)
		}
		rc, err := st.ReadRange(context.Background(), info, 0, int64(len(b)))
		if err != nil {
			t.Fatal(err)
		}
		onS3, err := io.ReadAll(rc)
		rc.Close()
		if err != nil || !bytes.Equal(onS3, b) {
			t.Errorf("%s: %d bytes on S3 (%v), %d in the fixture, or different", f, len(onS3), err, len(b))
		}
	}
}

func TestContract(t *testing.T) {
	srv := testenv.VersityGW(t)
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) (storage.Backend, storage.Backend) {
			st := srv.Store(t, srv.CreateBucket(t, t.Name()), "db")
			return st, st
		},
		Open: func(t *testing.T) storage.Backend {
			u, _ := url.Parse(srv.URL("any-bucket", "db"))
			st, err := s3store.OpenWithOptions(context.Background(), u,
				config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testenv.AccessKey, testenv.SecretKey, "")))
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	})
}

// clearAWSEnvironment leaves the SDK no credentials anywhere, and no
// instance metadata service to ask.
func clearAWSEnvironment(t *testing.T) {
	for _, v := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI",
		s3store.AccessKeyEnv, s3store.SecretKeyEnv, s3store.EndpointEnv} {
		t.Setenv(v, "")
	}
	t.Setenv("AWS_CONFIG_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", t.TempDir()+"/none")
	t.Setenv("AWS_EC2_METADATA_DISABLED", "true")
}

// Without credentials, the failure is one line that says what to set,
// matches storage.ErrAuth, and nothing is printed: at open for an
// endpoint, at the first request for AWS itself.
func TestNoCredentials(t *testing.T) {
	srv := testenv.VersityGW(t)
	clearAWSEnvironment(t)
	output := captureOutput(t)
	check := func(what string, err error) {
		t.Helper()
		if !errors.Is(err, storage.ErrAuth) || storage.IsTransient(err) || strings.Contains(err.Error(), "\n") ||
			!strings.Contains(err.Error(), "AWS_ACCESS_KEY_ID") || !strings.Contains(err.Error(), s3store.AccessKeyEnv) ||
			strings.Contains(err.Error(), "IMDS") || strings.Contains(err.Error(), "failed to refresh") {
			t.Errorf("%s: %v; want one line matching ErrAuth that says which variables to set", what, err)
		}
	}
	u, _ := url.Parse(srv.URL("bkt", "db"))
	_, err := s3store.Open(context.Background(), u)
	check("Open with an endpoint", err)

	u, _ = url.Parse("s3://bkt/db?region=eu-west-1")
	b, err := s3store.Open(context.Background(), u)
	if err != nil {
		t.Fatalf("Open for AWS makes no request and cannot fail for credentials: %v", err)
	}
	defer b.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	_, err = b.List(ctx, 0, 0)
	check("List on AWS", err)
	if out := output(); out != "" {
		t.Errorf("printed:\n%s", out)
	}
}

// Litestream's LITESTREAM_ACCESS_KEY_ID and LITESTREAM_SECRET_ACCESS_KEY
// work when the AWS variables are not set.
func TestLitestreamCredentialVariables(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "ls-env")
	clearAWSEnvironment(t)
	t.Setenv(s3store.AccessKeyEnv, testenv.AccessKey)
	t.Setenv(s3store.SecretKeyEnv, testenv.SecretKey)
	u, _ := url.Parse(srv.URL(bucket, "db"))
	b, err := s3store.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	write(t, b, fi(0, 1, 1), "hello")
	if got := list(t, b, 0, 0); len(got) != 1 {
		t.Errorf("List = %s", names(got))
	}
}

// endpoint=127.0.0.1:PORT (no scheme) reaches a local plain-HTTP server, as
// in Litestream, instead of failing over https.
func TestBareLocalEndpointIsHTTP(t *testing.T) {
	srv := testenv.VersityGW(t)
	bucket := srv.CreateBucket(t, "bare")
	u, _ := url.Parse("s3://" + bucket + "/db?endpoint=" + strings.TrimPrefix(srv.Endpoint(), "http://"))
	st, err := s3store.OpenWithOptions(context.Background(), u,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testenv.AccessKey, testenv.SecretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if _, err := st.List(context.Background(), 0, 0); err != nil {
		t.Fatalf("List: %v", err)
	}
}

// https to a plain-HTTP endpoint fails at once with the fix, not after
// retries with the SDK's words.
func TestHTTPSToPlainHTTPEndpoint(t *testing.T) {
	srv := testenv.VersityGW(t)
	u, _ := url.Parse("s3://bkt/db?endpoint=" + strings.Replace(srv.Endpoint(), "http://", "https://", 1))
	st, err := s3store.OpenWithOptions(context.Background(), u,
		config.WithCredentialsProvider(credentials.NewStaticCredentialsProvider(testenv.AccessKey, testenv.SecretKey, "")))
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	begin := time.Now()
	_, err = storage.ListLevel(context.Background(), st, storage.DefaultRetry, 0, 0)
	if err == nil || storage.IsTransient(err) || !strings.Contains(err.Error(), "write the endpoint as "+srv.Endpoint()) {
		t.Fatalf("List over https to an http server: %v; want a permanent error with the http:// endpoint", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("took %v to fail", d)
	}
}
