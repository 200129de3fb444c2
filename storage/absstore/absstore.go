// Package absstore keeps a replica in an Azure Blob Storage container, in
// Litestream 0.5's ABS layout:
//
//	<prefix>/ltx/<level>/<minTXID>-<maxTXID>.ltx
//
// with each blob's litestreamtimestamp metadata (Azure metadata names
// cannot hold a hyphen) set to the LTX header's commit time, and metadata
// objects (storage.MetaStore) at <prefix>/<name>.
//
// Replica URLs look like abs://account@container/prefix, as Litestream
// writes them, with endpoint= for Azurite or a sovereign cloud.
package absstore

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/azcore/policy"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/blob"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"github.com/superfly/ltx"
)

// TimestampKey is the metadata name holding an LTX file's commit time
// (RFC 3339 with nanoseconds), as Litestream writes it.
const TimestampKey = "litestreamtimestamp"

// blockSize bounds the memory one Write holds: uploads are staged in
// blocks of this size, then committed at once.
const blockSize = 8 << 20

// Store is a replica under a prefix of an Azure container. It is safe for
// concurrent use.
type Store struct {
	loc    location
	client *azblob.Client
	http   *httpx.Client
}

// Open returns the store for an abs:// URL. It makes no request.
func Open(ctx context.Context, u *url.URL) (storage.Backend, error) {
	return OpenWithKey(ctx, u, "")
}

// OpenWithKey is Open with the account key given, instead of taken from
// the environment (for tests that must not touch it). An empty key means
// the environment's credentials.
func OpenWithKey(ctx context.Context, u *url.URL, accountKey string) (*Store, error) {
	loc, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	hc, err := httpx.New(httpx.Options{Timeout: loc.timeout})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	client, err := newClient(loc, hc, accountKey)
	if err != nil {
		hc.Close()
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return &Store{loc: loc, client: client, http: hc}, nil
}

// String is the replica URL, never with credentials.
func (s *Store) String() string { return s.loc.String() }

// Layout implements storage.Layouter.
func (s *Store) Layout() storage.Layout { return storage.LayoutFile }

// Close implements storage.Backend.
func (s *Store) Close() error {
	s.http.Close()
	return nil
}

// Container is the container that holds the replica.
func (s *Store) Container() string { return s.loc.container }

// Key is the blob name of f.
func (s *Store) Key(f storage.FileInfo) string {
	return storage.JoinKey(s.loc.prefix, storage.LayoutFile.Path(f))
}

// List implements storage.Backend.
func (s *Store) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	prefix := storage.JoinKey(s.loc.prefix, storage.LayoutFile.LevelDir(level)) + "/"
	return s.list(ctx, prefix, from)
}

// ListAll implements storage.AllLister: one listing of <prefix>/ltx/.
func (s *Store) ListAll(ctx context.Context) ([]storage.FileInfo, error) {
	return s.list(ctx, s.loc.root()+"ltx/", 0)
}

func (s *Store) list(ctx context.Context, prefix string, from ltx.TXID) ([]storage.FileInfo, error) {
	var files []storage.FileInfo
	pager := s.client.NewListBlobsFlatPager(s.loc.container, &azblob.ListBlobsFlatOptions{Prefix: &prefix})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			return nil, s.classify(ctx, "list", prefix, err)
		}
		for _, item := range page.Segment.BlobItems {
			if item.Name == nil || item.Properties == nil {
				continue
			}
			f, ok := storage.LayoutFile.ParsePath(strings.TrimPrefix(*item.Name, s.loc.root()))
			if !ok || f.MinTXID < from {
				continue
			}
			if item.Properties.ContentLength != nil {
				f.Size = *item.Properties.ContentLength
			}
			if item.Properties.LastModified != nil {
				f.ModTime = *item.Properties.LastModified
			}
			files = append(files, f)
		}
	}
	storage.SortFiles(files)
	return files, nil
}

// ReadRange implements storage.Backend.
func (s *Store) ReadRange(ctx context.Context, f storage.FileInfo, off, length int64) (io.ReadCloser, error) {
	if length == 0 {
		return io.NopCloser(strings.NewReader("")), nil
	}
	key := s.Key(f)
	rng := blob.HTTPRange{Offset: off}
	if length > 0 {
		rng.Count = length
	}
	resp, err := s.client.DownloadStream(ctx, s.loc.container, key, &azblob.DownloadStreamOptions{Range: rng})
	if err != nil {
		return nil, s.classify(ctx, "get", key, err)
	}
	return &bodyReader{ReadCloser: resp.Body, s: s, key: key}, nil
}

// Write implements storage.Backend.
func (s *Store) Write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(ctx, f, timestamp, r, nil)
}

// WriteNew implements storage.ExclusiveWriter with If-None-Match: * on the
// commit of the blob: of two concurrent creators, exactly one succeeds.
func (s *Store) WriteNew(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	anyTag := azcore.ETagAny
	return s.write(ctx, f, timestamp, r, &blob.AccessConditions{
		ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &anyTag},
	})
}

func (s *Store) write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader, cond *blob.AccessConditions) error {
	key := s.Key(f)
	contentType := "application/octet-stream"
	opts := &azblob.UploadStreamOptions{
		BlockSize:        blockSize,
		Concurrency:      1,
		HTTPHeaders:      &blob.HTTPHeaders{BlobContentType: &contentType},
		AccessConditions: cond,
	}
	if !timestamp.IsZero() {
		ts := timestamp.UTC().Format(time.RFC3339Nano)
		opts.Metadata = map[string]*string{TimestampKey: &ts}
	}
	// Staged blocks become a blob only when committed: a source that fails
	// leaves nothing visible.
	src := &sourceReader{r: r}
	if _, err := s.client.UploadStream(ctx, s.loc.container, key, src, opts); err != nil {
		if src.err != nil {
			return fmt.Errorf("upload %s: read source: %w", s.loc.objectURL(key), src.err)
		}
		return s.classify(ctx, "upload", key, err)
	}
	return nil
}

// sourceReader remembers the source's own error, to tell it from the
// upload's.
type sourceReader struct {
	r   io.Reader
	err error
}

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		s.err = err
	}
	return n, err
}

// Delete implements storage.Backend.
func (s *Store) Delete(ctx context.Context, files []storage.FileInfo) error {
	for _, f := range files {
		key := s.Key(f)
		if _, err := s.client.DeleteBlob(ctx, s.loc.container, key, nil); err != nil {
			if err = s.classify(ctx, "delete", key, err); !errors.Is(err, storage.ErrNotFound) {
				return err
			}
		}
	}
	return nil
}

// bodyReader marks failures while streaming a body as transient.
type bodyReader struct {
	io.ReadCloser
	s   *Store
	key string
}

func (b *bodyReader) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err != nil && err != io.EOF {
		err = storage.Transient(&opError{op: "read", object: b.s.loc.objectURL(b.key), msg: err.Error(), err: err})
	}
	return n, err
}

// ReadMeta implements storage.MetaStore with a conditional GET: the token
// is the blob's ETag, sent as If-None-Match; an unchanged blob is answered
// 304 without a body.
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	key := storage.JoinKey(s.loc.prefix, name)
	opts := &azblob.DownloadStreamOptions{}
	if etag != "" {
		tag := azcore.ETag(etag)
		opts.AccessConditions = &blob.AccessConditions{ModifiedAccessConditions: &blob.ModifiedAccessConditions{IfNoneMatch: &tag}}
	}
	var raw *http.Response
	resp, err := s.client.DownloadStream(policy.WithCaptureResponse(ctx, &raw), s.loc.container, key, opts)
	if err != nil {
		return nil, "", s.classify(ctx, "get", key, err)
	}
	defer resp.Body.Close()
	if raw != nil && raw.StatusCode == http.StatusNotModified {
		// The SDK counts a 304 as a successful download.
		return nil, etag, storage.ErrNotModified
	}
	if resp.ContentLength != nil && *resp.ContentLength > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("get %s: %d bytes, larger than a metadata object may be (%d)", s.loc.objectURL(key), *resp.ContentLength, storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(resp.Body, storage.MaxMetaSize))
	if err != nil {
		return nil, "", storage.Transient(&opError{op: "get", object: s.loc.objectURL(key), msg: err.Error(), err: err})
	}
	var tag string
	if resp.ETag != nil {
		tag = string(*resp.ETag)
	}
	return data, tag, nil
}

// WriteMeta implements storage.MetaStore with one Put Blob (atomic).
func (s *Store) WriteMeta(ctx context.Context, name string, data []byte) error {
	if err := storage.CheckMetaName(name); err != nil {
		return err
	}
	key := storage.JoinKey(s.loc.prefix, name)
	contentType, cacheControl := "application/octet-stream", "no-cache"
	if strings.HasSuffix(name, ".json") {
		contentType = "application/json"
	}
	_, err := s.client.UploadBuffer(ctx, s.loc.container, key, bytes.Clone(data), &azblob.UploadBufferOptions{
		HTTPHeaders: &blob.HTTPHeaders{BlobContentType: &contentType, BlobCacheControl: &cacheControl},
	})
	return s.classify(ctx, "put", key, err)
}
