package s3store

import (
	"fmt"
	"net/url"
	"sort"
	"strconv"
	"strings"
)

// location is what a replica URL says about where the replica lives.
type location struct {
	bucket    string
	prefix    string // no leading or trailing slash; may be empty
	endpoint  string // "" means AWS itself
	region    string // "" means from the AWS environment
	pathStyle bool
	// pathStyleSet records an explicit force-path-style, so String can
	// give it back only when it differs from the default.
	pathStyleSet bool
}

var knownParams = []string{"endpoint", "force-path-style", "region"}

// parseURL reads s3://bucket/prefix?endpoint=...&region=...&force-path-style=...
func parseURL(u *url.URL) (location, error) {
	var loc location
	if u.Scheme != "s3" {
		return loc, fmt.Errorf("s3 URL %q: scheme must be s3", u.Redacted())
	}
	if u.Host == "" {
		return loc, fmt.Errorf("s3 URL %q has no bucket (want s3://bucket/prefix)", u.Redacted())
	}
	if u.User != nil {
		return loc, fmt.Errorf("s3 URL %q: credentials do not belong in the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", u.Redacted())
	}
	loc.bucket = u.Host
	loc.prefix = strings.Trim(u.Path, "/")
	q := u.Query()
	for name := range q {
		if !isKnownParam(name) {
			return loc, fmt.Errorf("s3 URL %q: unknown query parameter %q (supported: %s)",
				u.Redacted(), name, strings.Join(knownParams, ", "))
		}
	}
	var err error
	if loc.endpoint, err = parseEndpoint(q.Get("endpoint")); err != nil {
		return loc, fmt.Errorf("s3 URL %q: %w", u.Redacted(), err)
	}
	loc.region = q.Get("region")
	loc.pathStyle = loc.endpoint != ""
	if v, ok := q["force-path-style"]; ok {
		b, err := strconv.ParseBool(v[0])
		if err != nil {
			return loc, fmt.Errorf("s3 URL %q: force-path-style=%q is not a boolean (use true or false)", u.Redacted(), v[0])
		}
		loc.pathStyle, loc.pathStyleSet = b, true
	}
	return loc, nil
}

func isKnownParam(name string) bool {
	i := sort.SearchStrings(knownParams, name)
	return i < len(knownParams) && knownParams[i] == name
}

// parseEndpoint accepts "host:port" (meaning https) or an http(s) URL.
func parseEndpoint(s string) (string, error) {
	if s == "" {
		return "", nil
	}
	if !strings.Contains(s, "://") {
		s = "https://" + s
	}
	e, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", s, err)
	}
	if e.Scheme != "http" && e.Scheme != "https" {
		return "", fmt.Errorf("endpoint %q: scheme must be http or https", s)
	}
	if e.Host == "" {
		return "", fmt.Errorf("endpoint %q has no host", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// String gives the replica URL back in canonical form, never with secrets,
// readable: query values unescaped.
func (l location) String() string {
	s, q := l.parts()
	if q == "" {
		return s
	}
	raw, _ := url.QueryUnescape(q)
	return s + "?" + raw
}

// key is the canonical form with query values escaped, so that no two
// different locations share it (an endpoint holding "&region=..." in its
// own query stays distinct from a region parameter).
func (l location) key() string {
	s, q := l.parts()
	if q == "" {
		return s
	}
	return s + "?" + q
}

// parts is the URL without its query, and the encoded query.
func (l location) parts() (string, string) {
	s := "s3://" + l.bucket
	if l.prefix != "" {
		s += "/" + l.prefix
	}
	q := url.Values{}
	if l.endpoint != "" {
		q.Set("endpoint", l.endpoint)
	}
	if l.region != "" {
		q.Set("region", l.region)
	}
	if l.pathStyleSet && l.pathStyle != (l.endpoint != "") {
		q.Set("force-path-style", strconv.FormatBool(l.pathStyle))
	}
	return s, q.Encode()
}

// levelPrefix is the key prefix of one level: "<prefix>/<level as %04x>/".
func (l location) levelPrefix(level int) string {
	lvl := fmt.Sprintf("%04x/", level)
	if l.prefix == "" {
		return lvl
	}
	return l.prefix + "/" + lvl
}

// objectURL names one object for error messages.
func (l location) objectURL(key string) string {
	return "s3://" + l.bucket + "/" + key
}

// CanonicalURL is the replica URL u names, written one way (no trailing
// slashes, parameters in order, defaults left out), without opening
// anything: two URLs naming the same replica give the same string.
func CanonicalURL(u *url.URL) (string, error) {
	l, err := parseURL(u)
	if err != nil {
		return "", err
	}
	return l.key(), nil
}
