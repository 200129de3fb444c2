package s3store

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
)

// location is what a replica URL says about where the replica lives and
// how to reach it.
type location struct {
	bucket    string
	prefix    string // no leading or trailing slash; may be empty
	endpoint  string // "" means AWS itself
	region    string // "" means from the AWS environment
	pathStyle bool
	// pathStyleSet records an explicit force-path-style, so String can
	// give it back only when it differs from the default.
	pathStyleSet bool
	skipVerify   bool
	timeout      time.Duration
}

// spellings are the accepted query parameters: strata's names, and
// Litestream's camel-case spellings of the same settings.
var spellings = map[string]string{
	"endpoint":         "endpoint",
	"region":           "region",
	"force-path-style": "force-path-style",
	"forcePathStyle":   "force-path-style",
	"skip-verify":      "skip-verify",
	"skipVerify":       "skip-verify",
	"timeout":          "timeout",
}

// EndpointEnv is Litestream's variable for the endpoint of URLs without
// endpoint=; strata honours it too.
const EndpointEnv = "LITESTREAM_S3_ENDPOINT"

// parseURL reads s3://bucket/prefix?endpoint=...&region=...&force-path-style=...
func parseURL(u *url.URL) (location, error) {
	var loc location
	if u.Scheme != "s3" {
		return loc, fmt.Errorf("s3 URL %q: scheme must be s3", storage.RedactURL(u.String()))
	}
	if u.Opaque != "" {
		return loc, fmt.Errorf("s3 URL %q is malformed (want s3://bucket/prefix)", storage.RedactURL(u.String()))
	}
	if u.User != nil {
		return loc, fmt.Errorf("s3 URL %q: credentials do not belong in the URL; use AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY", storage.RedactURL(u.String()))
	}
	if u.Host == "" {
		return loc, fmt.Errorf("s3 URL %q has no bucket (want s3://bucket/prefix)", storage.RedactURL(u.String()))
	}
	if u.Fragment != "" {
		return loc, fmt.Errorf("s3 URL %q: a fragment (#...) is not allowed", storage.RedactURL(u.String()))
	}
	loc.bucket = u.Host
	loc.prefix = strings.Trim(path.Clean("/"+u.Path), "/")
	q, err := storage.Params(u, spellings)
	if err != nil {
		return loc, fmt.Errorf("s3 URL %q: %w", storage.RedactURL(u.String()), err)
	}
	endpoint, fromEnv := q["endpoint"], ""
	if endpoint == "" {
		endpoint, fromEnv = os.Getenv(EndpointEnv), " (from "+EndpointEnv+")"
	}
	if endpoint != "" {
		if loc.endpoint, err = storage.ParseEndpoint(endpoint); err != nil {
			return loc, fmt.Errorf("s3 URL %q: %w%s", storage.RedactURL(u.String()), err, fromEnv)
		}
	}
	loc.region = q["region"]
	loc.pathStyle = loc.endpoint != ""
	if v, ok := q["force-path-style"]; ok {
		if loc.pathStyle, err = storage.ParseBool("force-path-style", v); err != nil {
			return loc, fmt.Errorf("s3 URL %q: %w", storage.RedactURL(u.String()), err)
		}
		loc.pathStyleSet = true
	}
	if v, ok := q["skip-verify"]; ok {
		if loc.skipVerify, err = storage.ParseBool("skip-verify", v); err != nil {
			return loc, fmt.Errorf("s3 URL %q: %w", storage.RedactURL(u.String()), err)
		}
	}
	if loc.timeout, err = storage.RequestTimeout(q["timeout"]); err != nil {
		return loc, fmt.Errorf("s3 URL %q: %w", storage.RedactURL(u.String()), err)
	}
	return loc, nil
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

// root is the key prefix of everything in the replica: "<prefix>/", or ""
// at the top of the bucket.
func (l location) root() string {
	if l.prefix == "" {
		return ""
	}
	return l.prefix + "/"
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
