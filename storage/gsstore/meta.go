package gsstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"

	"github.com/strata-db/strata/storage"
	"google.golang.org/api/googleapi"
)

// ReadMeta implements storage.MetaStore with a conditional GET on the XML
// API: the token is the object's ETag, sent as If-None-Match, and GCS
// answers an unchanged object 304 without a body. (The Go client's reads
// cannot send that condition.) A server that ignores the condition
// (fake-gcs-server does) sends the object again with the same ETag; that
// too is ErrNotModified.
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	key := storage.JoinKey(s.loc.prefix, name)
	base := xmlEndpoint
	if s.loc.endpoint != "" {
		base = s.loc.endpoint
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, base+"/"+url.PathEscape(s.loc.bucket)+"/"+url.PathEscape(key), nil)
	if err != nil {
		return nil, "", err
	}
	req.Header.Set("Accept-Encoding", "identity")
	if etag != "" {
		req.Header.Set("If-None-Match", etag)
	}
	resp, err := s.web.Do(req)
	if err != nil {
		return nil, "", s.classify(ctx, "get", key, err)
	}
	defer resp.Body.Close()
	switch {
	case resp.StatusCode == http.StatusNotModified:
		return nil, etag, storage.ErrNotModified
	case resp.StatusCode != http.StatusOK:
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 4<<10))
		return nil, "", s.classify(ctx, "get", key, &googleapi.Error{Code: resp.StatusCode, Body: string(body)})
	}
	tag := resp.Header.Get("ETag")
	if etag != "" && tag == etag {
		return nil, tag, storage.ErrNotModified
	}
	if resp.ContentLength > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("get %s: %d bytes, larger than a metadata object may be (%d)", s.loc.objectURL(key), resp.ContentLength, storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, storage.MaxMetaSize))
	if err != nil {
		return nil, "", storage.Transient(&opError{op: "get", object: s.loc.objectURL(key), msg: err.Error(), err: err})
	}
	if tag == "" {
		return nil, "", errors.New("get " + s.loc.objectURL(key) + ": the server sent no ETag")
	}
	return data, tag, nil
}

// WriteMeta implements storage.MetaStore with one upload (atomic in GCS).
func (s *Store) WriteMeta(ctx context.Context, name string, data []byte) error {
	if err := storage.CheckMetaName(name); err != nil {
		return err
	}
	key := storage.JoinKey(s.loc.prefix, name)
	w := s.bucket.Object(key).NewWriter(ctx)
	w.ChunkSize = 0 // one request
	w.ContentType = "application/octet-stream"
	if strings.HasSuffix(name, ".json") {
		w.ContentType = "application/json"
	}
	// Readers poll this object: no cache may serve an old version.
	w.CacheControl = "no-cache"
	if _, err := io.Copy(w, bytes.NewReader(data)); err != nil {
		_ = w.Close()
		return s.classify(ctx, "put", key, err)
	}
	return s.classify(ctx, "put", key, w.Close())
}
