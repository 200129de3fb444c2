package backends

import "testing"

// Spellings of one replica have one canonical URL, so the VFS keeps one
// state for them; different replicas keep different ones.
func TestCanonical(t *testing.T) {
	dir := t.TempDir()
	same := [][]string{
		{dir, dir + "/", "file://" + dir, "file://" + dir + "/", "file://localhost" + dir, dir + "/sub/.."},
		{"s3://bkt/db", "s3://bkt/db/", "s3://bkt//db"},
		{"s3://bkt/db?endpoint=http://127.0.0.1:9000&region=us-east-1", "s3://bkt/db/?region=us-east-1&endpoint=http://127.0.0.1:9000"},
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
	for _, bad := range []string{"", "s3://", "file://otherhost/x", "s3://bkt/db?bogus=1"} {
		if _, err := Canonical(bad); err == nil {
			t.Errorf("Canonical(%q): no error", bad)
		}
	}
}
