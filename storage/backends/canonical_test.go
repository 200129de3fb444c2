package backends

import (
	"net/url"
	"testing"
)

// Spellings of one replica have one canonical URL, so the VFS keeps one
// state for them; different replicas keep different ones.
func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	same := [][]string{
		{dir, dir + "/", "file://" + dir, "file://" + dir + "/", "file://localhost" + dir, dir + "/sub/.."},
		{"s3://bkt/db", "s3://bkt/db/", "s3://bkt//db"},
		{"s3://bkt/db?endpoint=http://127.0.0.1:9000&region=us-east-1", "s3://bkt/db/?region=us-east-1&endpoint=http://127.0.0.1:9000",
			"s3://bkt/db?endpoint=127.0.0.1:9000&region=us-east-1&forcePathStyle=true&timeout=5s"},
		{"gs://bkt/db", "gs://bkt/db/", "gs://bkt//db?timeout=1m"},
		{"gs://bkt/db?endpoint=http://127.0.0.1:4443", "gs://bkt/db?endpoint=127.0.0.1:4443"},
		{"abs://acct@ctr/db", "abs://acct@ctr/db/", "abs://acct@ctr/./db"},
		{"abs://acct@ctr/db?endpoint=http://127.0.0.1:10000/acct", "abs://acct@ctr/db?endpoint=http://127.0.0.1:10000/acct/"},
		{"https://example.com/db", "https://EXAMPLE.com:443/db/", "https://example.com/x/../db"},
		{"http://example.com/db"},
	}
	seen := map[string]string{}
	for _, group := range same {
		want, err := Canonical(group[0])
		if err != nil {
			t.Fatalf("Canonical(%q): %v", group[0], err)
		}
		for _, u := range group[1:] {
			if got, err := Canonical(u); err != nil || got != want {
				t.Errorf("Canonical(%q) = %q, %v; want %q like %q", u, got, err, want, group[0])
			}
		}
		if other, ok := seen[want]; ok {
			t.Errorf("%q and %q name different replicas but share %q", group[0], other, want)
		}
		seen[want] = group[0]
	}
	for _, bad := range []string{"", "s3://", "file://otherhost/x", "s3://bkt/db?bogus=1", "s3:/bkt/db", "gopher://x/y",
		"gs://bkt/db?endpoint=%zz", "abs://ctr/db"} {
		if _, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q): no error", bad)
		}
	}
}

// Every scheme comes with its canonical form: a new backend cannot give
// one replica several states by being spelled several ways.
func TestEverySchemeIsCanonical(t *testing.T) {
	for name, s := range schemes {
		if s.Open == nil || s.Canonical == nil {
			t.Errorf("scheme %q: Open or Canonical missing", name)
		}
	}
	for _, raw := range []string{"s3://b/p", "gs://b/p", "abs://a@c/p", "https://h/p", "http://h/p", "file:///x"} {
		u, _ := url.Parse(raw)
		if _, ok := schemes[u.Scheme]; !ok {
			t.Errorf("scheme of %s not registered", raw)
		}
	}
}
