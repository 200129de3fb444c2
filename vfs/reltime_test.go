package vfs

import (
	"strings"
	"testing"
	"time"
)

func TestParseTime(t *testing.T) {
	now := time.Date(2026, 11, 24, 12, 0, 0, 0, time.UTC)
	for _, tc := range []struct {
		in     string
		want   time.Time
		latest bool
		err    string // a part of the error message, "" for success
	}{
		{in: "latest", latest: true},
		{in: "  Latest ", latest: true},
		{in: "now", latest: true},
		{in: "2026-11-24T10:00:00Z", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-24T10:00:00.123456789Z", want: time.Date(2026, 11, 24, 10, 0, 0, 123456789, time.UTC)},
		{in: "2026-11-24T12:00:00+02:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-24 10:00:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-24 10:00:00.5", want: time.Date(2026, 11, 24, 10, 0, 0, 5e8, time.UTC)},
		{in: "2026-11-24T10:00:00", want: time.Date(2026, 11, 24, 10, 0, 0, 0, time.UTC)},
		{in: "2026-11-24", want: time.Date(2026, 11, 24, 0, 0, 0, 0, time.UTC)},
		{in: "5 minutes ago", want: now.Add(-5 * time.Minute)},
		{in: "5 Minutes Ago", want: now.Add(-5 * time.Minute)},
		{in: "1 minute ago", want: now.Add(-time.Minute)},
		{in: "500 ms ago", want: now.Add(-500 * time.Millisecond)},
		{in: "500ms ago", want: now.Add(-500 * time.Millisecond)},
		{in: "1 hour 30 minutes ago", want: now.Add(-90 * time.Minute)},
		{in: "1 hour, 30 minutes ago", want: now.Add(-90 * time.Minute)},
		{in: "1 hour and 30 minutes ago", want: now.Add(-90 * time.Minute)},
		{in: "1h30m ago", want: now.Add(-90 * time.Minute)},
		{in: "1.5 hours ago", want: now.Add(-90 * time.Minute)},
		{in: "2 days ago", want: now.Add(-48 * time.Hour)},
		{in: "1 week ago", want: now.Add(-7 * 24 * time.Hour)},
		{in: "3 secs ago", want: now.Add(-3 * time.Second)},
		{in: "0 seconds ago", want: now},
		{in: "", err: "empty time"},
		{in: "   ", err: "empty time"},
		{in: "garbage", err: `"garbage"`},
		{in: "5 minutes", err: `"5 minutes"`},
		{in: "ago", err: `"ago"`},
		{in: "5 ago", err: `"5 ago"`},
		{in: "minutes ago", err: `"minutes ago"`},
		{in: "5 parsecs ago", err: `"5 parsecs ago"`},
		{in: "-5 minutes ago", err: `"-5 minutes ago"`},
		{in: "-5m ago", err: `"-5m ago"`},
		{in: "2026-13-01", err: `"2026-13-01"`},
		{in: "yesterday", err: "relative time"},
	} {
		t.Run(tc.in, func(t *testing.T) {
			got, latest, err := ParseTime(tc.in, now)
			switch {
			case tc.err != "":
				if err == nil || !strings.Contains(err.Error(), tc.err) {
					t.Errorf("ParseTime(%q) = %v, %v, %v; want an error mentioning %s", tc.in, got, latest, err, tc.err)
				}
			case err != nil:
				t.Errorf("ParseTime(%q): %v", tc.in, err)
			case latest != tc.latest || !got.Equal(tc.want):
				t.Errorf("ParseTime(%q) = %v (latest %v), want %v (latest %v)", tc.in, got, latest, tc.want, tc.latest)
			}
		})
	}
}

func TestParseAgo(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want time.Duration // < 0: an error
	}{
		{"500 ms", 500 * time.Millisecond},
		{"500 milliseconds", 500 * time.Millisecond},
		{"1 hour 30 minutes", 90 * time.Minute},
		{"1h30m", 90 * time.Minute},
		{"1h 30m", 90 * time.Minute},
		{"2 hrs", 2 * time.Hour},
		{"10 min", 10 * time.Minute},
		{"1 d 2 h", 26 * time.Hour},
		{"1 w", 7 * 24 * time.Hour},
		{"0.5 s", 500 * time.Millisecond},
		{"", -1},
		{"5", -1},
		{"minutes", -1},
		{"5 furlongs", -1},
		{"x minutes", -1},
		{"-1 minute", -1},
		{"1 hour 30", -1},
	} {
		got, err := parseAgo(tc.in)
		switch {
		case tc.want < 0 && err == nil:
			t.Errorf("parseAgo(%q) = %s, want an error", tc.in, got)
		case tc.want >= 0 && (err != nil || got != tc.want):
			t.Errorf("parseAgo(%q) = %s, %v; want %s", tc.in, got, err, tc.want)
		}
	}
}

func TestParseSize(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want int64 // 0: an error
	}{
		{"67108864", 64 << 20},
		{"64MiB", 64 << 20},
		{"64 MiB", 64 << 20},
		{"64mib", 64 << 20},
		{"64M", 64 << 20},
		{"64MB", 64 << 20},
		{"1GiB", 1 << 30},
		{"1G", 1 << 30},
		{"100KiB", 100 << 10},
		{"100k", 100 << 10},
		{"512B", 512},
		{" 4096 ", 4096},
		{"", 0},
		{"0", 0},
		{"-1", 0},
		{"-1MiB", 0},
		{"lots", 0},
		{"1.5MiB", 0},
		{"64TiB", 0},
		{"MiB", 0},
		{"9223372036854775807G", 0}, // overflows int64
		{"8589934592G", 0},          // 2^33 GiB = 2^63 bytes, one past the largest int64
	} {
		got, err := ParseSize(tc.in)
		switch {
		case tc.want == 0 && err == nil:
			t.Errorf("ParseSize(%q) = %d, want an error", tc.in, got)
		case tc.want == 0 && !strings.Contains(err.Error(), tc.in):
			t.Errorf("ParseSize(%q): error %q does not name the value", tc.in, err)
		case tc.want != 0 && (err != nil || got != tc.want):
			t.Errorf("ParseSize(%q) = %d, %v; want %d", tc.in, got, err, tc.want)
		}
	}
}

func TestParseParams(t *testing.T) {
	cfg := Config{DefaultReplica: "file:///default"}.withDefaults()
	p, err := parseParams(map[string]string{"wait": "5s", "poll_interval": "250ms", "cache_size": "1MiB", "txid": "0x2a"}, cfg)
	if err != nil {
		t.Fatal(err)
	}
	if id, _ := p.target.TXID(); p.replica != "file:///default" || p.wait != 5*time.Second || p.pollInterval != 250*time.Millisecond || p.cacheSize != 1<<20 || id != 42 {
		t.Errorf("parseParams = %+v", p)
	}
	if p, err := parseParams(map[string]string{"replica": "s3://b/p", "time": "latest"}, cfg); err != nil || p.replica != "s3://b/p" || !p.target.IsLatest() {
		t.Errorf("replica= and time=latest: %+v, %v", p, err)
	}
	for _, bad := range []map[string]string{
		{"wait": "-1s"},
		{"wait": "soon"},
		{"poll_interval": "0"},
		{"poll_interval": "-1s"},
		{"cache_size": "0"},
		{"txid": "-3"},
		{"time": "tomorrow"},
	} {
		if _, err := parseParams(bad, cfg); err == nil {
			t.Errorf("parseParams(%v) succeeded", bad)
		}
	}
	if _, err := parseParams(nil, Config{}.withDefaults()); err == nil || !strings.Contains(err.Error(), "STRATA_REPLICA_URL") {
		t.Errorf("no replica anywhere: err = %v", err)
	}
}
