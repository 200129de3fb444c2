// Package gsstore keeps a replica in a Google Cloud Storage bucket, in
// Litestream 0.5's GCS layout:
//
//	<prefix>/ltx/<level>/<minTXID>-<maxTXID>.ltx
//
// with each object's litestream-timestamp metadata set to the LTX header's
// commit time, and metadata objects (storage.MetaStore) at <prefix>/<name>.
//
// Replica URLs look like gs://bucket/prefix. Credentials are Google's
// application default credentials (GOOGLE_APPLICATION_CREDENTIALS, the
// gcloud login, or the metadata server on Google Cloud).
// STORAGE_EMULATOR_HOST, or the endpoint= parameter, sends requests to an
// emulator (fake-gcs-server) without credentials.
package gsstore

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"strings"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"github.com/superfly/ltx"
	"google.golang.org/api/iterator"
)

// TimestampKey is the metadata key holding an LTX file's commit time
// (RFC 3339 with nanoseconds), as Litestream writes it.
const TimestampKey = "litestream-timestamp"

// chunkSize bounds the memory one Write holds: files up to it are sent in
// one request, larger ones as a resumable upload of chunks this size.
const chunkSize = 8 << 20

// Store is a replica under a prefix of a GCS bucket. It is safe for
// concurrent use.
type Store struct {
	loc    location
	client *gcs.Client
	bucket *gcs.BucketHandle
	web    *http.Client // the client's own HTTP client (authenticated)
	http   *httpx.Client
}

// Open returns the store for a gs:// URL. It makes no request.
func Open(ctx context.Context, u *url.URL) (storage.Backend, error) {
	loc, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	client, web, hc, err := newClient(ctx, loc)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return &Store{loc: loc, client: client, bucket: client.Bucket(loc.bucket), web: web, http: hc}, nil
}

// String is the replica URL, never with credentials.
func (s *Store) String() string { return s.loc.String() }

// Layout implements storage.Layouter.
func (s *Store) Layout() storage.Layout { return storage.LayoutFile }

// Close implements storage.Backend.
func (s *Store) Close() error {
	err := s.client.Close()
	s.http.Close()
	return err
}

// Key is the object name of f.
func (s *Store) Key(f storage.FileInfo) string {
	return storage.JoinKey(s.loc.prefix, storage.LayoutFile.Path(f))
}

// Bucket is the bucket that holds the replica.
func (s *Store) Bucket() string { return s.loc.bucket }

// List implements storage.Backend.
func (s *Store) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	q := &gcs.Query{Prefix: storage.JoinKey(s.loc.prefix, storage.LayoutFile.LevelDir(level)) + "/"}
	if from > 1 {
		// Names sort by minTXID: start the listing at the first name that
		// can have MinTXID >= from.
		q.StartOffset = q.Prefix + from.String()
	}
	return s.list(ctx, q, from)
}

// ListAll implements storage.AllLister: one listing of <prefix>/ltx/.
func (s *Store) ListAll(ctx context.Context) ([]storage.FileInfo, error) {
	return s.list(ctx, &gcs.Query{Prefix: s.loc.root() + "ltx/"}, 0)
}

func (s *Store) list(ctx context.Context, q *gcs.Query, from ltx.TXID) ([]storage.FileInfo, error) {
	if err := q.SetAttrSelection([]string{"Name", "Size", "Updated"}); err != nil {
		return nil, err
	}
	var files []storage.FileInfo
	it := s.bucket.Objects(ctx, q)
	for {
		attrs, err := it.Next()
		if errors.Is(err, iterator.Done) {
			break
		} else if err != nil {
			return nil, s.classify(ctx, "list", q.Prefix, err)
		}
		f, ok := storage.LayoutFile.ParsePath(strings.TrimPrefix(attrs.Name, s.loc.root()))
		if !ok || f.MinTXID < from {
			continue
		}
		f.Size, f.ModTime = attrs.Size, attrs.Updated
		files = append(files, f)
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
	r, err := s.bucket.Object(key).NewRangeReader(ctx, off, length)
	if err != nil {
		return nil, s.classify(ctx, "get", key, err)
	}
	return &bodyReader{ReadCloser: r, s: s, key: key}, nil
}

// Write implements storage.Backend.
func (s *Store) Write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(ctx, s.bucket.Object(s.Key(f)), timestamp, r)
}

// WriteNew implements storage.ExclusiveWriter with GCS's DoesNotExist
// precondition (ifGenerationMatch=0): of two concurrent creators, exactly
// one succeeds.
func (s *Store) WriteNew(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(ctx, s.bucket.Object(s.Key(f)).If(gcs.Conditions{DoesNotExist: true}), timestamp, r)
}

func (s *Store) write(ctx context.Context, obj *gcs.ObjectHandle, timestamp time.Time, r io.Reader) error {
	// Cancelling the writer's context aborts the upload: nothing appears
	// when the source fails.
	wctx, cancel := context.WithCancel(ctx)
	defer cancel()
	w := obj.NewWriter(wctx)
	w.ChunkSize = chunkSize
	w.ContentType = "application/octet-stream"
	if !timestamp.IsZero() {
		w.Metadata = map[string]string{TimestampKey: timestamp.UTC().Format(time.RFC3339Nano)}
	}
	if _, err := io.Copy(w, &sourceReader{r}); err != nil {
		cancel()
		_ = w.Close()
		var src *sourceError
		if errors.As(err, &src) {
			return fmt.Errorf("upload %s: read source: %w", s.loc.objectURL(obj.ObjectName()), src.err)
		}
		return s.classify(ctx, "upload", obj.ObjectName(), err)
	}
	if err := w.Close(); err != nil {
		return s.classify(ctx, "upload", obj.ObjectName(), err)
	}
	return nil
}

// sourceReader tells the source's errors from the upload's in io.Copy.
type sourceReader struct{ r io.Reader }

type sourceError struct{ err error }

func (e *sourceError) Error() string { return e.err.Error() }

func (s *sourceReader) Read(p []byte) (int, error) {
	n, err := s.r.Read(p)
	if err != nil && err != io.EOF {
		err = &sourceError{err}
	}
	return n, err
}

// Delete implements storage.Backend.
func (s *Store) Delete(ctx context.Context, files []storage.FileInfo) error {
	for _, f := range files {
		key := s.Key(f)
		if err := s.bucket.Object(key).Delete(ctx); err != nil && !errors.Is(err, gcs.ErrObjectNotExist) {
			return s.classify(ctx, "delete", key, err)
		}
	}
	return nil
}

// bodyReader marks failures while streaming a body as transient: the
// object exists, the connection broke.
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
