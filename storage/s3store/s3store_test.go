package s3store

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

func mustParse(t *testing.T, raw string) location {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	loc, err := parseURL(u)
	if err != nil {
		t.Fatalf("parseURL(%q): %v", raw, err)
	}
	return loc
}

func TestParseURL(t *testing.T) {
	t.Setenv(EndpointEnv, "")
	for _, tc := range []struct {
		raw                      string
		bucket, prefix, endpoint string
		region                   string
		pathStyle                bool
	}{
		{"s3://bkt", "bkt", "", "", "", false},
		{"s3://bkt/", "bkt", "", "", "", false},
		{"s3://bkt/a/b//", "bkt", "a/b", "", "", false},
		{"s3://bkt/db?region=eu-west-1", "bkt", "db", "", "eu-west-1", false},
		{"s3://bkt/db?endpoint=http://127.0.0.1:9000", "bkt", "db", "http://127.0.0.1:9000", "", true},
		{"s3://bkt/db?endpoint=minio.example.com:9000", "bkt", "db", "https://minio.example.com:9000", "", true},
		{"s3://bkt/db?endpoint=https://x.example.com/&force-path-style=false", "bkt", "db", "https://x.example.com", "", false},
		{"s3://bkt/db?force-path-style=true", "bkt", "db", "", "", true},
		// Litestream's spellings and its reading of a bare local host:port.
		{"s3://bkt/db?endpoint=127.0.0.1:9000&forcePathStyle=false", "bkt", "db", "http://127.0.0.1:9000", "", false},
		{"s3://bkt/db?endpoint=localhost:9000", "bkt", "db", "http://localhost:9000", "", true},
		{"s3://bkt/db?endpoint=[::1]:9000", "bkt", "db", "http://[::1]:9000", "", true},
		{"s3://bkt/db?endpoint=192.168.1.5:9000&skipVerify=true", "bkt", "db", "http://192.168.1.5:9000", "", true},
		{"s3://bkt/./a/../db", "bkt", "db", "", "", false},
	} {
		loc := mustParse(t, tc.raw)
		got := fmt.Sprint(loc.bucket, "|", loc.prefix, "|", loc.endpoint, "|", loc.region, "|", loc.pathStyle)
		want := fmt.Sprint(tc.bucket, "|", tc.prefix, "|", tc.endpoint, "|", tc.region, "|", tc.pathStyle)
		if got != want {
			t.Errorf("%s: got %s, want %s", tc.raw, got, want)
		}
	}
}

func TestParseURLErrors(t *testing.T) {
	for raw, want := range map[string]string{
		"s3:///prefix":                            "has no bucket",
		"s3://bkt/p?endpont=http://x":             `unknown query parameter "endpont"`,
		"s3://bkt/p?force-path-style=maybe":       `force-path-style="maybe" is not a boolean`,
		"s3://bkt/p?endpoint=ftp://x":             "scheme must be http or https",
		"s3://key:secret@bkt/p":                   "credentials do not belong in the URL",
		"s3://bkt/p?skipVerify=perhaps":           `skip-verify="perhaps" is not a boolean`,
		"s3://bkt/p?timeout=0":                    `timeout="0" is not a positive duration`,
		"s3://bkt/p?sseCustomerKey=x":             `unknown query parameter "sseCustomerKey"`,
		"s3://bkt/p?endpoint=http://u:secret@h:1": "credentials do not belong in the URL",
		"s3://bkt/p#frag":                         "fragment",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = parseURL(u)
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("%s: error %v, want it to contain %q", raw, err, want)
		}
		if err != nil && strings.Contains(err.Error(), "secret") {
			t.Errorf("%s: error leaks the secret: %v", raw, err)
		}
	}
}

// LITESTREAM_S3_ENDPOINT is the endpoint of URLs without endpoint=, as in
// Litestream; a bad one is an error that names the variable, never a
// silent fallback to AWS.
func TestEndpointFromLitestreamVariable(t *testing.T) {
	t.Setenv(EndpointEnv, "127.0.0.1:9000")
	if loc := mustParse(t, "s3://bkt/db"); loc.endpoint != "http://127.0.0.1:9000" || !loc.pathStyle {
		t.Errorf("endpoint %q, path style %v", loc.endpoint, loc.pathStyle)
	}
	if loc := mustParse(t, "s3://bkt/db?endpoint=http://other:1"); loc.endpoint != "http://other:1" {
		t.Errorf("the URL's endpoint should win, got %q", loc.endpoint)
	}
	t.Setenv(EndpointEnv, "ftp://nowhere")
	u, _ := url.Parse("s3://bkt/db")
	if _, err := parseURL(u); err == nil || !strings.Contains(err.Error(), EndpointEnv) {
		t.Errorf("a bad %s: %v", EndpointEnv, err)
	}
}

func TestLocationString(t *testing.T) {
	t.Setenv(EndpointEnv, "")
	for raw, want := range map[string]string{
		"s3://bkt/db/": "s3://bkt/db",
		"s3://bkt":     "s3://bkt",
		"s3://bkt/db?endpoint=http://127.0.0.1:9000&force-path-style=true": "s3://bkt/db?endpoint=http://127.0.0.1:9000",
		"s3://bkt/db?endpoint=http://h:1&force-path-style=false&region=r":  "s3://bkt/db?endpoint=http://h:1&force-path-style=false&region=r",
	} {
		if got := mustParse(t, raw).String(); got != want {
			t.Errorf("%s: String() = %q, want %q", raw, got, want)
		}
	}
}

func TestKeys(t *testing.T) {
	f := storage.FileInfo{Level: 0, MinTXID: 0x2a, MaxTXID: 0x2a}
	snap := storage.FileInfo{Level: storage.SnapshotLevel, MinTXID: 1, MaxTXID: 0x2a}
	for raw, want := range map[string][2]string{
		"s3://bkt/mydb/": {"mydb/0000/000000000000002a-000000000000002a.ltx", "mydb/0009/0000000000000001-000000000000002a.ltx"},
		"s3://bkt":       {"0000/000000000000002a-000000000000002a.ltx", "0009/0000000000000001-000000000000002a.ltx"},
		"s3://bkt/a/b":   {"a/b/0000/000000000000002a-000000000000002a.ltx", "a/b/0009/0000000000000001-000000000000002a.ltx"},
	} {
		s := &Store{loc: mustParse(t, raw)}
		if got := s.Key(f); got != want[0] {
			t.Errorf("%s: Key(L0) = %q, want %q", raw, got, want[0])
		}
		if got := s.Key(snap); got != want[1] {
			t.Errorf("%s: Key(L9) = %q, want %q", raw, got, want[1])
		}
	}
	if got := (&Store{loc: location{prefix: "p"}}).Key(storage.FileInfo{Level: 12, MinTXID: 1, MaxTXID: 1}); got != "p/000c/0000000000000001-0000000000000001.ltx" {
		t.Errorf("Key(L12) = %q", got)
	}
}

func TestListStartAfterSortsBeforeFrom(t *testing.T) {
	// The StartAfter key must sort after every name with minTXID < from
	// and before every name with minTXID >= from.
	from := ltx.TXID(0x30)
	after := ltx.FormatFilename(from-1, ^ltx.TXID(0))
	for _, n := range []string{ltx.FormatFilename(from-1, from-1), ltx.FormatFilename(1, from+5)} {
		if n > after {
			t.Errorf("%s sorts after StartAfter %s", n, after)
		}
	}
	for _, n := range []string{ltx.FormatFilename(from, from), ltx.FormatFilename(from+1, from+9)} {
		if n <= after {
			t.Errorf("%s sorts before StartAfter %s", n, after)
		}
	}
}

func TestByteRange(t *testing.T) {
	for _, tc := range []struct {
		off, length int64
		want        string
	}{{0, -1, ""}, {10, -1, "bytes=10-"}, {0, 100, "bytes=0-99"}, {100, 1, "bytes=100-100"}} {
		if got := byteRange(tc.off, tc.length); got != tc.want {
			t.Errorf("byteRange(%d, %d) = %q, want %q", tc.off, tc.length, got, tc.want)
		}
	}
}

func apiErr(status int, code string) error {
	resp := &smithyhttp.Response{Response: &http.Response{StatusCode: status}}
	return &awshttp.ResponseError{
		ResponseError: &smithyhttp.ResponseError{Response: resp, Err: &smithy.GenericAPIError{Code: code, Message: "m"}},
	}
}

func TestClassify(t *testing.T) {
	s := &Store{loc: mustParse(t, "s3://bkt/db")}
	ctx := context.Background()
	for _, tc := range []struct {
		err       error
		transient bool
		notFound  bool
		msg       string
	}{
		{apiErr(404, "NoSuchKey"), false, true, "get s3://bkt/db/k: not found"},
		{apiErr(404, "NoSuchBucket"), false, false, "bucket bkt does not exist"},
		{apiErr(404, ""), false, true, "not found"},
		{apiErr(404, "XAdminUserNotFound"), false, false, "check AWS_ACCESS_KEY_ID"},
		{apiErr(403, "AccessDenied"), false, false, "access denied (check AWS_ACCESS_KEY_ID"},
		{apiErr(403, "InvalidAccessKeyId"), false, false, "check AWS_ACCESS_KEY_ID"},
		{apiErr(403, "SignatureDoesNotMatch"), false, false, "check AWS_SECRET_ACCESS_KEY"},
		{apiErr(503, "SlowDown"), true, false, "SlowDown: m"},
		{apiErr(500, "InternalError"), true, false, "InternalError"},
		{apiErr(429, "Whatever"), true, false, "Whatever"},
		{apiErr(400, "RequestTimeout"), true, false, "RequestTimeout"},
		{apiErr(400, "InvalidArgument"), false, false, "InvalidArgument: m"},
		{fmt.Errorf("send: %w", io.ErrUnexpectedEOF), true, false, "unexpected EOF"},
		{&net.OpError{Op: "dial", Net: "tcp", Err: syscall.ECONNREFUSED}, true, false, "dial tcp: connection refused"},
		{errors.New("serialization failed"), false, false, "serialization failed"},
	} {
		err := s.classify(ctx, "get", "db/k", tc.err)
		if storage.IsTransient(err) != tc.transient || errors.Is(err, storage.ErrNotFound) != tc.notFound {
			t.Errorf("%v: transient=%v notFound=%v", err, storage.IsTransient(err), errors.Is(err, storage.ErrNotFound))
		}
		if !strings.Contains(err.Error(), tc.msg) {
			t.Errorf("%v: want message containing %q", err, tc.msg)
		}
	}
}

func TestOpenWithoutCredentialsFailsFast(t *testing.T) {
	for _, k := range []string{"AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY", "AWS_SESSION_TOKEN", "AWS_PROFILE",
		"AWS_WEB_IDENTITY_TOKEN_FILE", "AWS_CONTAINER_CREDENTIALS_RELATIVE_URI", "AWS_CONTAINER_CREDENTIALS_FULL_URI"} {
		t.Setenv(k, "")
	}
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	u, _ := url.Parse("s3://bkt/db?endpoint=http://127.0.0.1:1")
	begin := time.Now()
	_, err := Open(context.Background(), u)
	if err == nil || !strings.Contains(err.Error(), "no AWS credentials found") {
		t.Fatalf("Open without credentials: %v", err)
	}
	if d := time.Since(begin); d > 2*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

func TestClassifyCancelled(t *testing.T) {
	s := &Store{loc: mustParse(t, "s3://bkt/db")}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	err := s.classify(ctx, "get", "db/k", apiErr(503, "SlowDown"))
	if storage.IsTransient(err) || !strings.Contains(err.Error(), "context canceled") {
		t.Errorf("error after cancel: %v; want permanent", err)
	}
}
