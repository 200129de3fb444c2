package gsstore

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"strconv"
	"strings"

	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/storage"
)

// ReadMeta implements storage.MetaStore with a conditional GET: the token
// is the object's generation, sent as ifGenerationNotMatch, and an
// unchanged object is answered 304 without a body.
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	key := storage.JoinKey(s.loc.prefix, name)
	obj := s.bucket.Object(key)
	var gen int64
	if etag != "" {
		var err error
		if gen, err = strconv.ParseInt(etag, 10, 64); err != nil || gen <= 0 {
			return nil, "", fmt.Errorf("read %s: token %q is not a GCS generation", s.loc.objectURL(key), etag)
		}
		obj = obj.If(gcs.Conditions{GenerationNotMatch: gen})
	}
	r, err := obj.NewReader(ctx)
	if err != nil {
		return nil, "", s.classify(ctx, "get", key, err)
	}
	defer r.Close()
	tag := strconv.FormatInt(r.Attrs.Generation, 10)
	if gen != 0 && r.Attrs.Generation == gen {
		// A server that ignored the condition: same answer, with a body.
		return nil, tag, storage.ErrNotModified
	}
	if r.Attrs.Size > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("get %s: %d bytes, larger than a metadata object may be (%d)", s.loc.objectURL(key), r.Attrs.Size, storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(r, storage.MaxMetaSize))
	if err != nil {
		return nil, "", storage.Transient(&opError{op: "get", object: s.loc.objectURL(key), msg: err.Error(), err: err})
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
