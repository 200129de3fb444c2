// Package s3store keeps a replica in an S3 bucket (AWS or any S3-compatible
// server), in Litestream 0.5's S3 layout:
//
//	<prefix>/<level as 4 hex digits>/<minTXID>-<maxTXID>.ltx
//
// Replica URLs look like
// s3://bucket/prefix?endpoint=http://127.0.0.1:9000&region=us-east-1&force-path-style=true;
// credentials come from the usual AWS environment (or Litestream's
// LITESTREAM_ACCESS_KEY_ID / LITESTREAM_SECRET_ACCESS_KEY). Metadata
// objects (storage.MetaStore) are <prefix>/<name>, outside the level
// folders.
package s3store

import (
	"context"
	"fmt"
	"io"
	"net/url"
	"os"
	"strings"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/config"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"github.com/superfly/ltx"
)

// TimestampKey is the user metadata key holding an LTX file's commit time
// (RFC 3339 with nanoseconds), as Litestream writes it.
const TimestampKey = "litestream-timestamp"

// Store is a replica under a prefix of a bucket. It is safe for concurrent
// use.
type Store struct {
	loc    location
	client *s3.Client
	http   *httpx.Client
}

// Open returns the store for an s3:// URL.
func Open(ctx context.Context, u *url.URL) (storage.Backend, error) {
	return OpenWithOptions(ctx, u)
}

// OpenWithOptions is Open with extra AWS configuration options, applied
// after the defaults: e.g. config.WithCredentialsProvider for tests that
// must not touch the process environment.
func OpenWithOptions(ctx context.Context, u *url.URL, opts ...func(*config.LoadOptions) error) (*Store, error) {
	loc, err := parseURL(u)
	if err != nil {
		return nil, err
	}
	cfg, err := loadConfig(ctx, loc, opts)
	if err != nil {
		return nil, err
	}
	if loc.endpoint != "" {
		if err := checkCredentials(ctx, cfg, loc); err != nil {
			return nil, err
		}
	}
	hc, err := httpx.New(httpx.Options{Timeout: loc.timeout, SkipVerify: loc.skipVerify, CABundle: os.Getenv("AWS_CA_BUNDLE")})
	if err != nil {
		return nil, fmt.Errorf("%s: %w", loc, err)
	}
	return &Store{loc: loc, client: newClient(cfg, loc, hc), http: hc}, nil
}

// Close implements storage.Backend: it gives back the store's share of the
// process's connection pool.
func (s *Store) Close() error {
	s.http.Close()
	return nil
}

// String is the replica URL, with its endpoint but never credentials.
func (s *Store) String() string { return s.loc.String() }

// Layout implements storage.Layouter.
func (s *Store) Layout() storage.Layout { return storage.LayoutS3 }

// Bucket is the bucket that holds the replica.
func (s *Store) Bucket() string { return s.loc.bucket }

// Key is the object key of f.
func (s *Store) Key(f storage.FileInfo) string {
	return storage.JoinKey(s.loc.prefix, storage.LayoutS3.Path(f))
}

// Client is the underlying S3 client, for callers that need more than the
// storage.Backend interface (e.g. tests reading object metadata).
func (s *Store) Client() *s3.Client { return s.client }

// List implements storage.Backend.
func (s *Store) List(ctx context.Context, level int, from ltx.TXID) ([]storage.FileInfo, error) {
	prefix := storage.JoinKey(s.loc.prefix, storage.LayoutS3.LevelDir(level)) + "/"
	in := &s3.ListObjectsV2Input{Bucket: aws.String(s.loc.bucket), Prefix: aws.String(prefix)}
	if after := storage.LayoutS3.StartAfter(level, from); after != "" {
		// Keys sort by minTXID, so the listing can start just before from
		// instead of paging through the whole level.
		in.StartAfter = aws.String(storage.JoinKey(s.loc.prefix, after))
	}
	return s.list(ctx, in, from)
}

// ListAll implements storage.AllLister: one recursive listing of the
// prefix returns every level, instead of one listing per level.
func (s *Store) ListAll(ctx context.Context) ([]storage.FileInfo, error) {
	return s.list(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(s.loc.bucket), Prefix: aws.String(s.loc.root())}, 0)
}

func (s *Store) list(ctx context.Context, in *s3.ListObjectsV2Input, from ltx.TXID) ([]storage.FileInfo, error) {
	root := s.loc.root()
	var files []storage.FileInfo
	for p := s3.NewListObjectsV2Paginator(s.client, in); p.HasMorePages(); {
		page, err := p.NextPage(ctx)
		if err != nil {
			return nil, s.classify(ctx, "list", aws.ToString(in.Prefix), err)
		}
		for _, obj := range page.Contents {
			f, ok := storage.LayoutS3.ParsePath(strings.TrimPrefix(aws.ToString(obj.Key), root))
			if !ok || f.MinTXID < from {
				continue
			}
			f.Size, f.ModTime = aws.ToInt64(obj.Size), aws.ToTime(obj.LastModified)
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
	in := &s3.GetObjectInput{Bucket: aws.String(s.loc.bucket), Key: aws.String(key)}
	if rng := byteRange(off, length); rng != "" {
		in.Range = aws.String(rng)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, s.classify(ctx, "get", key, err)
	}
	return &bodyReader{ReadCloser: out.Body, s: s, key: key}, nil
}

// byteRange is the HTTP Range header for a read; "" means the whole object.
func byteRange(off, length int64) string {
	switch {
	case length < 0 && off <= 0:
		return ""
	case length < 0:
		return fmt.Sprintf("bytes=%d-", off)
	default:
		return fmt.Sprintf("bytes=%d-%d", off, off+length-1)
	}
}
