package storage_test

import (
	"net/url"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
)

// No user name or password survives redaction: at the top of the URL,
// inside a query value, escaped or not, or in a string that is not a URL.
func TestRedactURL(t *testing.T) {
	for raw, want := range map[string]string{
		"s3://bkt/p?endpoint=http://user:PASS@host:9000":      "s3://bkt/p?endpoint=http://REDACTED@host:9000",
		"s3://bkt/p?endpoint=http%3A%2F%2Fuser%3APASS%40host": "s3://bkt/p?endpoint=http%3A%2F%2FREDACTED%40host",
		"https://user:PASS@example.com/db":                    "https://REDACTED@example.com/db",
		"s3://KEY:PASS@bkt/p%zz":                              "s3://REDACTED@bkt/p%zz",
		"s3://bkt/p?endpoint=http://127.0.0.1:9000&region=x":  "s3://bkt/p?endpoint=http://127.0.0.1:9000&region=x",
		"/plain/path":                "/plain/path",
		"abs://account@container/db": "abs://REDACTED@container/db",
	} {
		if got := storage.RedactURL(raw); got != want {
			t.Errorf("RedactURL(%q) = %q, want %q", raw, got, want)
		}
	}
}

func TestParams(t *testing.T) {
	spellings := map[string]string{"endpoint": "endpoint", "force-path-style": "force-path-style", "forcePathStyle": "force-path-style"}
	parse := func(raw string) (map[string]string, error) {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		return storage.Params(u, spellings)
	}
	got, err := parse("s3://b/p?forcePathStyle=true&endpoint=http://h:1")
	if err != nil || got["force-path-style"] != "true" || got["endpoint"] != "http://h:1" || len(got) != 2 {
		t.Errorf("Params = %v, %v; want the canonical names", got, err)
	}
	for raw, want := range map[string]string{
		"s3://b/p?endpoint=http://127.0.0.1:1/%zz":           "invalid URL escape",
		"s3://b/p?endpont=x":                                 `unknown query parameter "endpont" (supported: endpoint, force-path-style)`,
		"s3://b/p?endpoint=a&endpoint=b":                     `"endpoint" given more than once`,
		"s3://b/p?forcePathStyle=true&force-path-style=true": `"force-path-style" given more than once`,
		"s3://b/p?endpoint=":                                 `"endpoint" has no value`,
		"s3://b/p?endpoint;x=1":                              "invalid semicolon",
	} {
		if _, err := parse(raw); err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("Params(%s): %v, want an error containing %q", raw, err, want)
		}
	}
}

// A bare host:port is http for this machine and private networks, as
// Litestream reads it, and https for everything else.
func TestParseEndpoint(t *testing.T) {
	for raw, want := range map[string]string{
		"127.0.0.1:9000":             "http://127.0.0.1:9000",
		"localhost:9000":             "http://localhost:9000",
		"[::1]:9000":                 "http://[::1]:9000",
		"minio.local:9000":           "http://minio.local:9000",
		"10.1.2.3:9000":              "http://10.1.2.3:9000",
		"192.168.1.10":               "http://192.168.1.10",
		"minio.example.com:9000":     "https://minio.example.com:9000",
		"s3.eu-west-1.amazonaws.com": "https://s3.eu-west-1.amazonaws.com",
		"https://127.0.0.1:9443/":    "https://127.0.0.1:9443",
		"http://example.com/path/":   "http://example.com/path",
	} {
		if got, err := storage.ParseEndpoint(raw); err != nil || got != want {
			t.Errorf("ParseEndpoint(%q) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		"ftp://x":               "scheme must be http or https",
		"http://user:PASS@host": "credentials do not belong",
		"http://":               "has no host",
		"http://h/%zz":          "invalid URL escape",
		"http://h:1/?x=1":       "must not have a query",
	} {
		_, err := storage.ParseEndpoint(raw)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "PASS") {
			t.Errorf("ParseEndpoint(%q): %v, want an error containing %q, without the password", raw, err, want)
		}
	}
}

func TestRequestTimeout(t *testing.T) {
	t.Setenv(storage.RequestTimeoutEnv, "")
	if d, err := storage.RequestTimeout(""); err != nil || d != storage.DefaultRequestTimeout {
		t.Errorf("default = %v, %v", d, err)
	}
	t.Setenv(storage.RequestTimeoutEnv, "7s")
	if d, err := storage.RequestTimeout(""); err != nil || d != 7*time.Second {
		t.Errorf("from the environment = %v, %v; want 7s", d, err)
	}
	if d, err := storage.RequestTimeout("1m"); err != nil || d != time.Minute {
		t.Errorf("from the URL = %v, %v; want 1m (the URL wins)", d, err)
	}
	for _, bad := range []string{"0s", "-1s", "soon", "10"} {
		if _, err := storage.RequestTimeout(bad); err == nil {
			t.Errorf("timeout=%s accepted", bad)
		}
	}
	t.Setenv(storage.RequestTimeoutEnv, "forever")
	if _, err := storage.RequestTimeout(""); err == nil || !strings.Contains(err.Error(), storage.RequestTimeoutEnv) {
		t.Errorf("a bad %s: %v, want an error naming it", storage.RequestTimeoutEnv, err)
	}
}

func TestParseBool(t *testing.T) {
	for _, v := range []string{"true", "TRUE", "1", "t", "yes", "Y"} {
		if b, err := storage.ParseBool("x", v); err != nil || !b {
			t.Errorf("ParseBool(%q) = %v, %v", v, b, err)
		}
	}
	for _, v := range []string{"false", "0", "f", "no", "N"} {
		if b, err := storage.ParseBool("x", v); err != nil || b {
			t.Errorf("ParseBool(%q) = %v, %v", v, b, err)
		}
	}
	if _, err := storage.ParseBool("force-path-style", "maybe"); err == nil || !strings.Contains(err.Error(), `force-path-style="maybe"`) {
		t.Errorf("ParseBool(maybe): %v", err)
	}
}
