package backends_test

import (
	"context"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/storage/backends"
	"github.com/strata-db/strata/storage/filestore"
)

func TestOpenFile(t *testing.T) {
	abs := t.TempDir()
	t.Chdir(abs)
	tests := []struct {
		url     string
		wantDir string
	}{
		{abs, abs}, // plain absolute path
		{"rel/replica", filepath.Join(abs, "rel/replica")}, // plain relative path, made absolute
		{"./x", filepath.Join(abs, "x")},
		{"file://" + filepath.ToSlash(abs) + "/r", filepath.Join(abs, "r")},          // file:///abs
		{"file://localhost" + filepath.ToSlash(abs) + "/r", filepath.Join(abs, "r")}, // the one host a file URL may name
	}
	for _, tt := range tests {
		b, err := backends.Open(context.Background(), tt.url)
		if err != nil {
			t.Errorf("Open(%q): %v", tt.url, err)
			continue
		}
		fs, ok := b.(*filestore.Store)
		if !ok {
			t.Errorf("Open(%q) = %T, want a *filestore.Store", tt.url, b)
			continue
		}
		if fs.Dir() != tt.wantDir {
			t.Errorf("Open(%q).Dir() = %q, want %q", tt.url, fs.Dir(), tt.wantDir)
		}
		if want := "file://" + filepath.ToSlash(tt.wantDir); b.String() != want {
			t.Errorf("Open(%q).String() = %q, want %q", tt.url, b.String(), want)
		}
	}
}

func TestOpenS3(t *testing.T) {
	// Whatever AWS configuration the machine has must not matter.
	t.Setenv("AWS_PROFILE", "")
	t.Setenv("AWS_CONFIG_FILE", filepath.Join(t.TempDir(), "none"))
	t.Setenv("AWS_SHARED_CREDENTIALS_FILE", filepath.Join(t.TempDir(), "none"))
	b, err := backends.Open(context.Background(), "s3://my-bucket/some/prefix?region=eu-west-1")
	if err != nil {
		t.Fatalf("Open(s3://...) without an endpoint (no request is made): %v", err)
	}
	if got := b.String(); !strings.HasPrefix(got, "s3://my-bucket/some/prefix") {
		t.Errorf("String() = %q, want the bucket and prefix", got)
	}
}

func TestOpenErrors(t *testing.T) {
	tests := []struct {
		name    string
		url     string
		mention []string
		hide    []string // must not appear in the error
	}{
		{name: "empty URL", url: "", mention: []string{"empty"}},
		{name: "file URL naming a host", url: "file://otherhost/x", mention: []string{"otherhost", "file:///"}},
		{name: "file URL without a path", url: "file://", mention: []string{"no path"}},
		{name: "unknown scheme lists the supported ones", url: "gopher://host/x", mention: []string{`"gopher"`, "file://", "s3://", "gs://", "abs://", "https://"}},
		{name: "a URL missing its slashes is not a folder", url: "s3:/shop/prod", mention: []string{"malformed", "s3://", "./s3:/shop/prod"}},
		{name: "a URL missing all its slashes is not a folder", url: "gs:bucket", mention: []string{"malformed", "gs://"}},
		{
			name: "a malformed escape in a parameter is an error, not a default endpoint", url: "s3://bkt/p?endpoint=http://127.0.0.1:1/%zz",
			mention: []string{"%zz"},
		},
		{name: "an empty parameter is an error", url: "s3://bkt/p?endpoint=", mention: []string{"endpoint", "no value"}},
		{name: "a parameter given twice is an error", url: "s3://bkt/p?forcePathStyle=true&force-path-style=false", mention: []string{"force-path-style", "more than once"}},
		{
			name: "a password in the endpoint is refused and never echoed", url: "s3://bkt/p?endpoint=http://user:hunter2secret@127.0.0.1:9000",
			mention: []string{"credentials do not belong", "REDACTED"}, hide: []string{"hunter2secret"},
		},
		{
			name: "a password in an escaped endpoint is never echoed", url: "s3://bkt/p?endpoint=http%3A%2F%2Fuser%3Ahunter2secret%40127.0.0.1%3A9000&bogus=1",
			mention: []string{"bogus"}, hide: []string{"hunter2secret"},
		},
		{name: "a file URL with parameters", url: "file:///tmp/x?mode=ro", mention: []string{`"mode"`}},
		{name: "gs without a bucket", url: "gs:///prefix", mention: []string{"bucket"}},
		{name: "abs without a container", url: "abs:///prefix", mention: []string{"container"}},
		{name: "http with credentials", url: "https://user:hunter2secret@example.com/db", mention: []string{"credentials"}, hide: []string{"hunter2secret"}},
		{name: "s3 without a bucket", url: "s3:///prefix", mention: []string{"bucket"}},
		{name: "s3 with an unknown parameter", url: "s3://b/p?regoin=x", mention: []string{"regoin", "endpoint", "region", "force-path-style", "skip-verify", "timeout"}},
		{name: "s3 with a bad force-path-style", url: "s3://b/p?force-path-style=maybe", mention: []string{"maybe"}},
		{name: "s3 with a bad endpoint", url: "s3://b/p?endpoint=ftp://x", mention: []string{"ftp://x"}},
		{
			name: "credentials in the URL are refused and never echoed", url: "s3://AKIDEXAMPLE:hunter2secret@b/p",
			mention: []string{"AWS_ACCESS_KEY_ID"}, hide: []string{"hunter2secret"},
		},
		{name: "unparsable URL", url: "s3://b/p%zz", mention: []string{"%zz"}},
		{
			name: "unparsable URL with credentials: never echoed", url: "s3://AKIDEXAMPLE:hunter2secret@b/p%zz",
			mention: []string{"%zz"}, hide: []string{"hunter2secret", "AKIDEXAMPLE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b, err := backends.Open(context.Background(), tt.url)
			if err == nil {
				t.Fatalf("Open(%q) = %v, want an error", tt.url, b)
			}
			t.Logf("error: %v", err)
			for _, m := range tt.mention {
				if !strings.Contains(err.Error(), m) {
					t.Errorf("error %q does not mention %q", err, m)
				}
			}
			for _, h := range tt.hide {
				if strings.Contains(err.Error(), h) {
					t.Errorf("error %q leaks %q", err, h)
				}
			}
		})
	}
}
