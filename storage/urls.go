package storage

import (
	"fmt"
	"net"
	"net/url"
	"os"
	"regexp"
	"sort"
	"strings"
	"time"
)

// userinfo matches the user information of a URL anywhere in a string:
// after "//" (or its escaped form %2F%2F, as in a query value) up to "@"
// (or %40). It stops at characters that cannot be inside userinfo.
var userinfo = regexp.MustCompile(`(?i)(//|%2F%2F)[^/?#&\s]*?(@|%40)`)

// RedactURL hides every user name and password in a URL, including those
// of URLs nested in its query (endpoint=http://user:PASS@host), so that
// the result can be printed, logged or put in an error. It works on
// unparsable strings too.
func RedactURL(raw string) string {
	return userinfo.ReplaceAllString(raw, "${1}REDACTED${2}")
}

// Params reads the query of a replica URL strictly: a malformed escape,
// a parameter that is not in spellings, a parameter given twice (in any
// two spellings) or an empty value is an error that names it. spellings
// maps every accepted spelling (strata's and Litestream's, e.g.
// "force-path-style" and "forcePathStyle") to its canonical name; the
// result is keyed by canonical name. Never silently dropping a parameter
// matters: a dropped endpoint= would send the request, with the user's
// credentials, to the provider's default endpoint.
func Params(u *url.URL, spellings map[string]string) (map[string]string, error) {
	q, err := url.ParseQuery(u.RawQuery)
	if err != nil {
		return nil, fmt.Errorf("query %q: %w", RedactURL(u.RawQuery), err)
	}
	out := map[string]string{}
	for name, values := range q {
		canon, ok := spellings[name]
		if !ok {
			return nil, fmt.Errorf("unknown query parameter %q (supported: %s)", name, supportedParams(spellings))
		}
		if _, dup := out[canon]; dup || len(values) > 1 {
			return nil, fmt.Errorf("query parameter %q given more than once", canon)
		}
		if values[0] == "" {
			return nil, fmt.Errorf("query parameter %q has no value", name)
		}
		out[canon] = values[0]
	}
	return out, nil
}

func supportedParams(spellings map[string]string) string {
	var names []string
	for spelling, canon := range spellings {
		if spelling == canon {
			names = append(names, canon)
		}
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// ParseBool reads a boolean parameter: true/false, 1/0, t/f, yes/no, in any
// case (the spellings Litestream accepts).
func ParseBool(name, v string) (bool, error) {
	switch strings.ToLower(v) {
	case "true", "1", "t", "yes", "y":
		return true, nil
	case "false", "0", "f", "no", "n":
		return false, nil
	}
	return false, fmt.Errorf("%s=%q is not a boolean (use true or false)", name, v)
}

// ParseTimeout reads a timeout parameter: a Go duration such as 30s or
// 1m30s, greater than zero.
func ParseTimeout(name, v string) (time.Duration, error) {
	d, err := time.ParseDuration(v)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("%s=%q is not a positive duration (e.g. 30s, 2m)", name, v)
	}
	return d, nil
}

// ParseEndpoint reads an endpoint= parameter: an http(s) URL, or host:port.
// A bare host:port means http for a local or private address (localhost,
// *.localhost, *.local, loopback and private IPv4 and IPv6 ranges), as
// Litestream does, and https otherwise. User information is refused:
// credentials do not belong in a URL, where they would end up in logs.
// The result has no trailing slash.
func ParseEndpoint(s string) (string, error) {
	if !strings.Contains(s, "://") {
		host := s
		if i := strings.IndexAny(host, "/?#"); i >= 0 {
			host = host[:i]
		}
		scheme := "https"
		if h, _, err := net.SplitHostPort(host); err == nil && IsLocalHost(h) || IsLocalHost(host) {
			scheme = "http"
		}
		s = scheme + "://" + s
	}
	e, err := url.Parse(s)
	if err != nil {
		return "", fmt.Errorf("endpoint %q: %w", RedactURL(s), unwrapURLError(err))
	}
	if e.User != nil {
		return "", fmt.Errorf("endpoint %q: credentials do not belong in the URL", RedactURL(s))
	}
	if e.Scheme != "http" && e.Scheme != "https" {
		return "", fmt.Errorf("endpoint %q: scheme must be http or https", s)
	}
	if e.Host == "" {
		return "", fmt.Errorf("endpoint %q has no host", s)
	}
	if e.RawQuery != "" || e.Fragment != "" {
		return "", fmt.Errorf("endpoint %q: must not have a query or fragment", s)
	}
	return strings.TrimRight(s, "/"), nil
}

// IsLocalHost reports whether host (a name or an IP address, without port)
// is this machine or a private network: where plain http is the norm.
func IsLocalHost(host string) bool {
	host = strings.TrimSuffix(strings.ToLower(strings.Trim(host, "[]")), ".")
	if host == "localhost" || strings.HasSuffix(host, ".localhost") || strings.HasSuffix(host, ".local") {
		return true
	}
	ip := net.ParseIP(host)
	return ip != nil && (ip.IsLoopback() || ip.IsPrivate())
}

func unwrapURLError(err error) error {
	if uerr, ok := err.(*url.Error); ok {
		return uerr.Err
	}
	return err
}

// DefaultRequestTimeout is how long a request may wait for the server
// without progress (for its answer, or for the next bytes of a body)
// before it is cut and retried, unless the replica URL's timeout= or
// STRATA_REQUEST_TIMEOUT says otherwise.
const DefaultRequestTimeout = 30 * time.Second

// RequestTimeoutEnv names the environment variable that sets the request
// timeout of every remote backend whose URL has no timeout= parameter.
const RequestTimeoutEnv = "STRATA_REQUEST_TIMEOUT"

// RequestTimeout resolves a remote backend's request timeout: param (the
// URL's timeout= value) if set, else $STRATA_REQUEST_TIMEOUT, else
// DefaultRequestTimeout. With the default retry policy (6 attempts), one
// operation against a server that never answers gives up after about
// 6 × timeout + 6 s.
func RequestTimeout(param string) (time.Duration, error) {
	if param != "" {
		return ParseTimeout("timeout", param)
	}
	if v := os.Getenv(RequestTimeoutEnv); v != "" {
		return ParseTimeout(RequestTimeoutEnv, v)
	}
	return DefaultRequestTimeout, nil
}
