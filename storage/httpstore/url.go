package httpstore

import (
	"fmt"
	"net/url"
	"path"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
)

// location is the replica's base URL and how to reach it.
type location struct {
	scheme, host, path string // path: no trailing slash; "" at the root
	timeout            time.Duration
	skipVerify         bool
}

var spellings = map[string]string{
	"timeout": "timeout", "skip-verify": "skip-verify", "skipVerify": "skip-verify",
}

func parseURL(u *url.URL) (location, error) {
	var loc location
	bad := func(format string, args ...any) (location, error) {
		return loc, fmt.Errorf("URL %q: %s", storage.RedactURL(u.String()), fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme != "http" && u.Scheme != "https":
		return bad("scheme must be http or https")
	case u.Opaque != "" || u.Host == "":
		return bad("malformed (want https://host/path)")
	case u.User != nil:
		return bad("credentials in the URL are not supported")
	case u.Fragment != "":
		return bad("a fragment (#...) is not allowed")
	}
	q, err := storage.Params(u, spellings)
	if err != nil {
		return bad("%v", err)
	}
	if loc.timeout, err = storage.RequestTimeout(q["timeout"]); err != nil {
		return bad("%v", err)
	}
	if v, ok := q["skip-verify"]; ok {
		if loc.skipVerify, err = storage.ParseBool("skip-verify", v); err != nil {
			return bad("%v", err)
		}
	}
	loc.scheme = u.Scheme
	loc.host = strings.ToLower(u.Host)
	if p := u.Port(); (p == "443" && u.Scheme == "https") || (p == "80" && u.Scheme == "http") {
		loc.host = strings.ToLower(u.Hostname())
		if strings.Contains(loc.host, ":") {
			loc.host = "[" + loc.host + "]"
		}
	}
	loc.path = strings.TrimRight(path.Clean("/"+u.Path), "/")
	return loc, nil
}

// String is the base URL, canonical.
func (l location) String() string {
	return (&url.URL{Scheme: l.scheme, Host: l.host, Path: l.path}).String()
}

// objectURL is the URL of a path relative to the base.
func (l location) objectURL(rel string) string {
	return (&url.URL{Scheme: l.scheme, Host: l.host, Path: l.path + "/" + rel}).String()
}

// CanonicalURL writes an http(s) replica URL one way, without any I/O.
func CanonicalURL(u *url.URL) (string, error) {
	l, err := parseURL(u)
	if err != nil {
		return "", err
	}
	return l.String(), nil
}
