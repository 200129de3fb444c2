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
		var uerr *url.Error // its message repeats the URL, secrets included
		if errors.As(err, &uerr) {
			err = uerr.Err
		}
		return nil, fmt.Errorf("replica URL %q: %w", redact(rawURL), err)
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
