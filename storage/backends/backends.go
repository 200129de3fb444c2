// Package backends opens a storage.Backend from a replica URL. It is the
// one place that maps URL schemes to backends: each backend registers how
// to open a URL and how to write it one canonical way, together.
package backends

import (
	"context"
	"errors"
	"fmt"
	"net/url"
	"path/filepath"
	"regexp"
	"sort"
	"strings"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/absstore"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/storage/gsstore"
	"github.com/strata-db/strata/storage/httpstore"
	"github.com/strata-db/strata/storage/s3store"
)

// Scheme is one kind of backend.
type Scheme struct {
	// Open returns the backend for a URL of this scheme.
	Open func(ctx context.Context, u *url.URL) (storage.Backend, error)
	// Canonical writes a URL of this scheme one way, without any I/O,
	// so that every spelling of one replica gives one string (the VFS
	// keeps one state per string). It fails where Open would fail to
	// parse the URL.
	Canonical func(u *url.URL) (string, error)
}

// schemes maps a URL scheme to its backend. Adding a backend means adding a
// line here and nothing else; a scheme cannot be added without its
// canonical form.
var schemes = map[string]Scheme{
	"file":  {Open: openFile, Canonical: canonicalFileURL},
	"s3":    {Open: s3store.Open, Canonical: s3store.CanonicalURL},
	"gs":    {Open: gsstore.Open, Canonical: gsstore.CanonicalURL},
	"abs":   {Open: absstore.Open, Canonical: absstore.CanonicalURL},
	"http":  {Open: httpstore.Open, Canonical: httpstore.CanonicalURL},
	"https": {Open: httpstore.Open, Canonical: httpstore.CanonicalURL},
}

// Open returns the backend for rawURL: "s3://bucket/prefix?endpoint=...",
// "gs://bucket/prefix", "abs://account@container/prefix",
// "https://host/path", "file:///abs/dir", or a plain path. Close it when
// done.
func Open(ctx context.Context, rawURL string) (storage.Backend, error) {
	u, scheme, err := parse(rawURL)
	if err != nil {
		return nil, err
	}
	if u == nil {
		return filestore.New(rawURL)
	}
	b, err := scheme.Open(ctx, u)
	if err != nil {
		return nil, fmt.Errorf("replica URL %q: %w", storage.RedactURL(rawURL), err)
	}
	return b, nil
}

// Canonical returns one spelling of the replica rawURL names, without any
// I/O, so that "/x", "file:///x" and "file:///x/" are known to be one
// replica. It fails where Open would fail to parse the URL.
func Canonical(rawURL string) (string, error) {
	u, scheme, err := parse(rawURL)
	if err != nil {
		return "", err
	}
	if u == nil {
		return canonicalFile(rawURL)
	}
	c, err := scheme.Canonical(u)
	if err != nil {
		return "", fmt.Errorf("replica URL %q: %w", storage.RedactURL(rawURL), err)
	}
	return c, nil
}

// schemePrefix is what starts a URL: a scheme and a colon.
var schemePrefix = regexp.MustCompile(`^([a-zA-Z][a-zA-Z0-9+.-]*):`)

// parse reads rawURL; a nil URL means a plain path.
func parse(rawURL string) (*url.URL, Scheme, error) {
	if rawURL == "" {
		return nil, Scheme{}, fmt.Errorf("replica URL is empty")
	}
	m := schemePrefix.FindStringSubmatch(rawURL)
	if m == nil || (len(m[1]) == 1 && filepath.VolumeName(rawURL) != "") {
		return nil, Scheme{}, nil // a path (C:\x on Windows is one too)
	}
	if !strings.HasPrefix(rawURL[len(m[0]):], "//") {
		// s3:/shop/prod, gs:bucket: a URL missing its slashes, not a
		// folder of that name.
		return nil, Scheme{}, fmt.Errorf("replica URL %q is malformed: want %s://... (write ./%s for a local folder of that name)",
			storage.RedactURL(rawURL), m[1], storage.RedactURL(rawURL))
	}
	u, err := url.Parse(rawURL)
	if err != nil {
		return nil, Scheme{}, fmt.Errorf("replica URL %q: %w", storage.RedactURL(rawURL), unwrapURLError(err))
	}
	scheme, ok := schemes[u.Scheme]
	if !ok {
		return nil, Scheme{}, fmt.Errorf("replica URL %q: unsupported scheme %q (supported: %s)", storage.RedactURL(rawURL), u.Scheme, supported())
	}
	return u, scheme, nil
}

func canonicalFile(path string) (string, error) {
	s, err := filestore.New(path)
	if err != nil {
		return "", err
	}
	return s.String(), nil
}

func fileDir(u *url.URL) (string, error) {
	if u.Host != "" && u.Host != "localhost" {
		return "", fmt.Errorf("file URL must not name a host (%q); use file:///abs/path", u.Host)
	}
	if u.User != nil {
		return "", fmt.Errorf("file URL must not hold user information")
	}
	if u.Path == "" {
		return "", fmt.Errorf("file URL has no path")
	}
	if _, err := storage.Params(u, nil); err != nil {
		return "", fmt.Errorf("file URL: %w", err)
	}
	return filepath.FromSlash(u.Path), nil
}

func openFile(_ context.Context, u *url.URL) (storage.Backend, error) {
	dir, err := fileDir(u)
	if err != nil {
		return nil, err
	}
	return filestore.New(dir)
}

func canonicalFileURL(u *url.URL) (string, error) {
	dir, err := fileDir(u)
	if err != nil {
		return "", err
	}
	return canonicalFile(dir)
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
