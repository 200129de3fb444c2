package gsstore

import (
	"fmt"
	"net/url"
	"os"
	"path"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
)

// EmulatorEnv is the Google client libraries' variable naming an emulator
// (host:port, plain http); it applies to URLs without endpoint=.
const EmulatorEnv = "STORAGE_EMULATOR_HOST"

// location is what a gs:// URL says.
type location struct {
	bucket   string
	prefix   string // no leading or trailing slash; may be empty
	endpoint string // "" means Google Cloud Storage itself
	// endpointParam records an endpoint given in the URL (not by the
	// environment), which String gives back.
	endpointParam bool
	timeout       time.Duration
}

var spellings = map[string]string{"endpoint": "endpoint", "timeout": "timeout"}

func parseURL(u *url.URL) (location, error) {
	var loc location
	bad := func(format string, args ...any) (location, error) {
		return loc, fmt.Errorf("gs URL %q: %s", storage.RedactURL(u.String()), fmt.Sprintf(format, args...))
	}
	switch {
	case u.Scheme != "gs":
		return bad("scheme must be gs")
	case u.Opaque != "":
		return bad("malformed (want gs://bucket/prefix)")
	case u.User != nil:
		return bad("credentials do not belong in the URL; use GOOGLE_APPLICATION_CREDENTIALS")
	case u.Host == "":
		return bad("no bucket (want gs://bucket/prefix)")
	case u.Fragment != "":
		return bad("a fragment (#...) is not allowed")
	}
	loc.bucket = u.Host
	loc.prefix = strings.Trim(path.Clean("/"+u.Path), "/")
	q, err := storage.Params(u, spellings)
	if err != nil {
		return bad("%v", err)
	}
	if e := q["endpoint"]; e != "" {
		if loc.endpoint, err = storage.ParseEndpoint(e); err != nil {
			return bad("%v", err)
		}
		loc.endpointParam = true
	} else if host := os.Getenv(EmulatorEnv); host != "" {
		if !strings.Contains(host, "://") {
			host = "http://" + host // as Google's libraries read it
		}
		if loc.endpoint, err = storage.ParseEndpoint(host); err != nil {
			return bad("%s: %v", EmulatorEnv, err)
		}
	}
	if loc.timeout, err = storage.RequestTimeout(q["timeout"]); err != nil {
		return bad("%v", err)
	}
	return loc, nil
}

// String is the URL in canonical form.
func (l location) String() string {
	s := "gs://" + l.bucket
	if l.prefix != "" {
		s += "/" + l.prefix
	}
	if l.endpointParam {
		s += "?endpoint=" + l.endpoint
	}
	return s
}

// key is String with the endpoint always included and escaped: two
// locations are one replica exactly when their keys are equal.
func (l location) key() string {
	s := "gs://" + l.bucket
	if l.prefix != "" {
		s += "/" + l.prefix
	}
	if l.endpoint != "" {
		s += "?" + url.Values{"endpoint": {l.endpoint}}.Encode()
	}
	return s
}

// root is the name prefix of everything in the replica.
func (l location) root() string {
	if l.prefix == "" {
		return ""
	}
	return l.prefix + "/"
}

func (l location) objectURL(key string) string { return "gs://" + l.bucket + "/" + key }

// CanonicalURL writes a gs:// URL one way, without any I/O.
func CanonicalURL(u *url.URL) (string, error) {
	l, err := parseURL(u)
	if err != nil {
		return "", err
	}
	return l.key(), nil
}
