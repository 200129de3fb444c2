// Package backends opens a storage.Backend from a replica URL. It is the
// one place that maps URL schemes to backends.
package backends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"sort"
	"strings"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/storage/s3store"
)

type opener func(ctx context.Context, u *url.URL) (storage.Backend, error)

// schemes maps a URL scheme to its backend. Adding a backend means adding a
// line here and nothing else.
var schemes = map[string]opener{
	"file": openFile,
	"s3":   s3store.Open,
}

// Open returns the backend for rawURL: "s3://bucket/prefix?endpoint=...",
// "file:///abs/dir", or a plain path.
func Open(ctx context.Context, rawURL string) (storage.Backend, error) {
	if rawURL == "" {
		return nil, fmt.Errorf("replica URL is empty")
	}
	if !strings.Contains(rawURL, "://") {
		return filestore.New(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %w", redact(rawURL), unwrapURLError(err))
	}
	open, ok := schemes[u.Scheme]
	if !ok {
		return nil, fmt.Errorf("replica URL %q: unsupported scheme %q (supported: %s)", redact(rawURL), u.Scheme, supported())
	}
	b, err := open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %w", redact(rawURL), err)
	}
	return b, nil
}

// Canonical returns one spelling of the replica rawURL names, without any
// I/O, so that "/x", "file:///x" and "file:///x/" are known to be one
// replica. It fails where Open would fail to parse the URL.
func Canonical(rawURL string) (string, error) {
	if rawURL == "" {
		return "", fmt.Errorf("replica URL is empty")
	}
	if !strings.Contains(rawURL, "://") {
		return canonicalFile(rawURL)
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return "", fmt.Errorf("replica URL %q: %w", redact(rawURL), unwrapURLError(err))
	}
	switch u.Scheme {
	case "file":
		if _, err := openFile(context.Background(), u); err != nil {
			return "", fmt.Errorf("replica URL %q: %w", redact(rawURL), err)
		}
		return canonicalFile(filepath.FromSlash(u.Path))
	case "s3":
		c, err := s3store.CanonicalURL(u)
		if err != nil {
			return "", fmt.Errorf("replica URL %q: %w", redact(rawURL), err)
		}
		return c, nil
	}
	return rawURL, nil // Open reports the unsupported scheme
}

func canonicalFile(path string) (string, error) {
	s, err := filestore.New(path)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

func openFile(_ context.Context, u *url.URL) (storage.Backend, error) {
	if u.Host != "" && u.Host != "localhost" {
		return nil, fmt.Errorf("file URL must not name a host (%q); use file:///abs/path", u.Host)
	}
	if u.Path == "" {
		return nil, fmt.Errorf("file URL has no path")
	}
	return filestore.New(filepath.FromSlash(u.Path))
}

func supported() string {
	names := make([]string, 0, len(schemes))
	for k := range schemes {
		names = append(names, k+"://")
	}
	sort.Strings(names)
	return strings.Join(names, ", ")
}

// unwrapURLError drops the URL a *url.Error repeats, secrets included.
func unwrapURLError(err error) error {
	var uerr *url.Error
	if errors.As(err, &uerr) {
		return uerr.Err
	}
	return err
}

// redact hides a password embedded in a URL so it never reaches a log.
func redact(rawURL string) string {
	u, err := url.Parse(rawURL)
	if err == nil {
		if u.User == nil {
			return rawURL
		}
		return u.Redacted()
	}
	// Unparsable: cut any user info out of the authority by hand.
	scheme, rest, ok := strings.Cut(rawURL, "://")
	if !ok {
		return rawURL
	}
	authority := rest
	if i := strings.IndexAny(rest, "/?#"); i >= 0 {
		authority = rest[:i]
	}
	if at := strings.LastIndex(authority, "@"); at >= 0 {
		return scheme + "://xxxxx@" + rest[at+1:]
	}
	return rawURL
}
