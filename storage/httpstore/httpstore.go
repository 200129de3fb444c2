// Package httpstore reads a replica from any web server or CDN that serves
// files with Range requests: https://host/path (or http://). It is
// read-only. Static servers cannot list, so the replica's root holds a
// manifest (storage.ManifestName, written by storage.WriteManifest or
// `strata publish`) that lists the LTX files and says their layout; the
// files themselves are read with range requests:
//
//	<base URL>/strata-manifest.json
//	<base URL>/ltx/<level>/<minTXID>-<maxTXID>.ltx       (layout "file")
//	<base URL>/<level as %04x>/<minTXID>-<maxTXID>.ltx   (layout "s3")
//
// Listing polls the manifest with a conditional GET (If-None-Match, or
// If-Modified-Since for servers without ETags), so an unchanged replica
// costs one 304 answer.
package httpstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"github.com/superfly/ltx"
)

// Store is a read-only replica at a base URL. It is safe for concurrent
// use.
type Store struct {
	loc  location
	http *httpx.Client

	// mu guards the last manifest read and its token; it is never held
	// during a request.
	mu       sync.Mutex
	manifest *storage.Manifest
	token    string
}

// Open returns the store for an http:// or https:// URL. It makes no
// request.
func Open(ctx context.Context, u *url.URL) (storage.Backend, error) {
	loc, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	hc, err := httpx.New(httpx.Options{Timeout: loc.timeout, SkipVerify: loc.skipVerify})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return &Store{loc: loc, http: hc}, nil
}

// String is the replica URL.
func (s *Store) String() string { return s.loc.String() }

// Close implements storage.Backend.
func (s *Store) Close() error {
	s.http.Close()
	return nil
}

// Layout implements storage.Layouter: the layout the manifest declares
// (LayoutFile until a manifest was read).
func (s *Store) Layout() storage.Layout {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifest == nil {
		return storage.LayoutFile
	}
	return s.manifest.Layout
}

// List implements storage.Backend from the manifest, refreshed with one
// conditional GET.
func (s *Store) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	m, err := s.refresh(ctx)
	if err != nil {
		return nil, err
	}
	return m.List(level, from), nil
}

// ListAll implements storage.AllLister from the manifest.
func (s *Store) ListAll(ctx context.Context) ([]storage.FileInfo, error) {
	m, err := s.refresh(ctx)
	if err != nil {
		return nil, err
	}
	return m.All(), nil
}

// refresh returns the current manifest, reading it again only if it
// changed.
func (s *Store) refresh(ctx context.Context) (*storage.Manifest, error) {
	s.mu.Lock()
	m, token := s.manifest, s.token
	s.mu.Unlock()
	if m == nil {
		token = ""
	}
	data, newToken, err := s.ReadMeta(ctx, storage.ManifestName, token)
	switch {
	case errors.Is(err, storage.ErrNotModified):
		return m, nil
	case errors.Is(err, storage.ErrNotFound):
		return nil, fmt.Errorf("%s: no %s at the replica's root: publish the replica there with `strata publish` (or storage.WriteManifest): %w",
			s.loc, storage.ManifestName, storage.ErrNoReplica)
	case err != nil:
		return nil, err
	}
	m, err = storage.ParseManifest(data)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", s.loc.objectURL(storage.ManifestName), err)
	}
	s.mu.Lock()
	s.manifest, s.token = m, newToken
	s.mu.Unlock()
	return m, nil
}

// ReadRange implements storage.Backend with a Range request.
func (s *Store) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	layout := s.knownLayout()
	if layout == "" {
		m, err := s.refresh(ctx)
		if err != nil {
			return nil, err
		}
		layout = m.Layout
	}
	rel := layout.Path(f)
	req, err := s.newRequest(ctx, rel)
	if err != nil {
		return nil, err
	}
	switch {
	case length > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-%d", off, off+length-1))
	case off > 0:
		req.Header.Set("Range", fmt.Sprintf("bytes=%d-", off))
	}
	resp, err := s.http.HTTP.Do(req)
	if err != nil {
		return nil, s.requestError("get", rel, err)
	}
	if resp.StatusCode != http.StatusOK && resp.StatusCode != http.StatusPartialContent {
		defer resp.Body.Close()
		return nil, s.statusError("get", rel, resp)
	}
	return &bodyReader{ReadCloser: resp.Body, object: s.loc.objectURL(rel)}, nil
}

func (s *Store) knownLayout() storage.Layout {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.manifest == nil {
		return ""
	}
	return s.manifest.Layout
}

// ReadMeta implements storage.MetaStore with a conditional GET. The token
// is the ETag (sent as If-None-Match) or, from servers without ETags, the
// Last-Modified date (sent as If-Modified-Since), given only when the
// object is at least a second old (see validator).
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	req, err := s.newRequest(ctx, name)
	if err != nil {
		return nil, "", err
	}
	// Ask caches in between (a CDN) to check with the origin.
	req.Header.Set("Cache-Control", "no-cache")
	if date, ok := strings.CutPrefix(etag, modifiedPrefix); ok {
		req.Header.Set("If-Modified-Since", date)
	} else if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := s.http.HTTP.Do(req)
	if err != nil {
		return nil, "", s.requestError("get", name, err)
	}
	defer resp.Body.Close()
	switch resp.StatusCode {
	case http.StatusOK:
	case http.StatusNotModified:
		return nil, etag, storage.ErrNotModified
	default:
		return nil, "", s.statusError("get", name, resp)
	}
	if resp.ContentLength > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("get %s: %d bytes, larger than a metadata object may be (%d)", s.loc.objectURL(name), resp.ContentLength, storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, storage.MaxMetaSize))
	if err != nil {
		return nil, "", storage.Transient(fmt.Errorf("get %s: %w", s.loc.objectURL(name), err))
	}
	return data, validator(resp), nil
}

// modifiedPrefix marks a token that is a Last-Modified date.
const modifiedPrefix = "modified:"

// validator is the token of an answer: its ETag, else its Last-Modified
// date; "" when the object changed within the second before the server's
// Date. Dates have one-second resolution, and many servers derive ETags
// from them too (nginx: seconds and size), so a second change within that
// second could carry the same validator: such an answer gets no token,
// and the next read is unconditional.
func validator(resp *http.Response) string {
	tag := resp.Header.Get("ETag")
	lastModified := resp.Header.Get("Last-Modified")
	if lastModified != "" {
		lm, err := http.ParseTime(lastModified)
		if err != nil {
			return ""
		}
		date, err := http.ParseTime(resp.Header.Get("Date"))
		if err != nil || date.Sub(lm) < time.Second {
			return ""
		}
	}
	switch {
	case tag != "":
		return tag
	case lastModified != "":
		return modifiedPrefix + lastModified
	}
	return ""
}

// WriteMeta implements storage.MetaStore: refused, the replica is read-only.
func (s *Store) WriteMeta(ctx context.Context, name string, data []byte) error {
	return s.readOnly()
}

// Write implements storage.Backend: refused, the replica is read-only.
func (s *Store) Write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.readOnly()
}

// WriteNew implements storage.ExclusiveWriter: refused.
func (s *Store) WriteNew(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.readOnly()
}

// Delete implements storage.Backend: refused.
func (s *Store) Delete(ctx context.Context, files []storage.FileInfo) error {
	return s.readOnly()
}

func (s *Store) readOnly() error {
	return fmt.Errorf("%s: %w: a replica on a web server cannot be written; write to the replica it is published from, then publish it again (strata publish)",
		s.loc, storage.ErrReadOnly)
}

func (s *Store) newRequest(ctx context.Context, rel string) (*http.Request, error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, s.loc.objectURL(rel), nil)
	if err != nil {
		return nil, err
	}
	// Ranges are of the bytes stored, never of a compressed encoding.
	req.Header.Set("Accept-Encoding", "identity")
	req.Header.Set("User-Agent", "strata")
	return req, nil
}

// bodyReader marks failures while streaming a body as transient.
type bodyReader struct {
	io.ReadCloser
	object string
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = storage.Transient(fmt.Errorf("read %s: %w", b.object, err))
	}
	return n, err
}
