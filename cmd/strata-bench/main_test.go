package main

import (
	"bytes"
	"context"
	"strings"
	"testing"
)

// Wrong calls exit 2 with a message naming the culprit, -h exits 0, and
// none of them starts a server.
func TestUsage(t *testing.T) {
	for _, tc := range []struct {
		args    []string
		code    int
		mention string
	}{
		{[]string{"-h"}, 0, "Usage: strata-bench"},
		{[]string{"-bogus"}, 2, "-bogus"},
		{[]string{"-bandwidth", "lots"}, 2, `"lots"`},
		{[]string{"extra"}, 2, `"extra"`},
	} {
		var stdout, stderr bytes.Buffer
		if code := run(context.Background(), tc.args, &stdout, &stderr); code != tc.code || !strings.Contains(stderr.String(), tc.mention) {
			t.Errorf("strata-bench %s: exit %d, stderr %q; want exit %d mentioning %s", strings.Join(tc.args, " "), code, stderr.String(), tc.code, tc.mention)
		}
	}
}

func TestParseBytes(t *testing.T) {
	for in, want := range map[string]int64{"0": 0, "1048576": 1 << 20, "10MiB": 10 << 20, "500KB": 500e3, "2GiB": 2 << 30} {
		if got, err := parseBytes(in); err != nil || got != want {
			t.Errorf("parseBytes(%q) = %d, %v; want %d", in, got, err, want)
		}
	}
	for _, in := range []string{"", "-1", "ten", "5TB"} {
		if _, err := parseBytes(in); err == nil {
			t.Errorf("parseBytes(%q): no error", in)
		}
	}
}
