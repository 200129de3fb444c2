package vfs

import (
	"fmt"
	"strconv"
	"strings"
	"time"
)

// ParseTime reads a time-travel target: 'latest' (or 'now'), an RFC 3339
// time, 'YYYY-MM-DD HH:MM:SS[.fff]' or 'YYYY-MM-DD' (UTC), or a relative
// time such as '5 minutes ago' or '1 hour 30 minutes ago'. latest is true
// for 'latest'.
//
// A small grammar of our own covers these forms; a general natural-language
// date parser would add megabytes of locale data for phrases nobody types
// into a pragma.
func ParseTime(s string, now time.Time) (t time.Time, latest bool, err error) {
	v := strings.ToLower(strings.TrimSpace(s))
	switch v {
	case "latest", "now":
		return time.Time{}, true, nil
	case "":
		return time.Time{}, false, fmt.Errorf("empty time: want 'latest', an RFC 3339 time or e.g. '5 minutes ago'")
	}
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02 15:04:05.999999999Z07:00", "2006-01-02 15:04:05.999999999", "2006-01-02T15:04:05.999999999", "2006-01-02"} {
		if t, err := time.Parse(layout, strings.TrimSpace(s)); err == nil {
			return t, false, nil
		}
	}
	if strings.HasSuffix(v, " ago") {
		d, err := parseAgo(strings.TrimSuffix(v, " ago"))
		if err == nil {
			return now.Add(-d), false, nil
		}
	}
	return time.Time{}, false, fmt.Errorf("invalid time %q: want 'latest', an RFC 3339 time (2026-11-24T10:00:00Z) or a relative time ('5 minutes ago')", s)
}

var units = map[string]time.Duration{
	"ms": time.Millisecond, "millisecond": time.Millisecond,
	"s": time.Second, "sec": time.Second, "second": time.Second,
	"m": time.Minute, "min": time.Minute, "minute": time.Minute,
	"h": time.Hour, "hr": time.Hour, "hour": time.Hour,
	"d": 24 * time.Hour, "day": 24 * time.Hour,
	"w": 7 * 24 * time.Hour, "week": 7 * 24 * time.Hour,
}

// parseAgo reads '<n> <unit> [<n> <unit> ...]', also '1h30m' style, with
// optional commas and 'and'.
func parseAgo(s string) (time.Duration, error) {
	if d, err := time.ParseDuration(strings.ReplaceAll(s, " ", "")); err == nil && d >= 0 {
		return d, nil
	}
	fields := strings.Fields(strings.NewReplacer(",", " ", " and ", " ").Replace(s))
	if len(fields) == 0 || len(fields)%2 != 0 {
		return 0, fmt.Errorf("want pairs of number and unit")
	}
	var total time.Duration
	for i := 0; i < len(fields); i += 2 {
		n, err := strconv.ParseFloat(fields[i], 64)
		if err != nil || n < 0 {
			return 0, fmt.Errorf("bad number %q", fields[i])
		}
		unit, ok := units[fields[i+1]]
		if !ok {
			unit, ok = units[strings.TrimSuffix(fields[i+1], "s")]
		}
		if !ok {
			return 0, fmt.Errorf("unknown unit %q", fields[i+1])
		}
		total += time.Duration(n * float64(unit))
	}
	return total, nil
}
