package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/storage"
)

// metaKey is the key of a metadata object: <prefix>/<name>, beside the
// level folders.
func (s *Store) metaKey(name string) string { return storage.JoinKey(s.loc.prefix, name) }

// ReadMeta implements storage.MetaStore with a conditional GET: the token
// is the object's ETag, sent back as If-None-Match, and an unchanged
// object costs a 304 answer without a body.
func (s *Store) ReadMeta(ctx context.Context, name, etag string) ([]byte, string, error) {
	if err := storage.CheckMetaName(name); err != nil {
		return nil, "", err
	}
	key := s.metaKey(name)
	in := &s3.GetObjectInput{Bucket: aws.String(s.loc.bucket), Key: aws.String(key)}
	if etag != "" {
		in.IfNoneMatch = aws.String(etag)
	}
	out, err := s.client.GetObject(ctx, in)
	if err != nil {
		return nil, "", s.classify(ctx, "get", key, err)
	}
	defer out.Body.Close()
	if aws.ToInt64(out.ContentLength) > storage.MaxMetaSize {
		return nil, "", fmt.Errorf("get %s: %d bytes, larger than a metadata object may be (%d)",
			s.loc.objectURL(key), aws.ToInt64(out.ContentLength), storage.MaxMetaSize)
	}
	data, err := io.ReadAll(io.LimitReader(out.Body, storage.MaxMetaSize))
	if err != nil {
		return nil, "", storage.Transient(&opError{op: "get", object: s.loc.objectURL(key), msg: err.Error(), err: err})
	}
	return data, aws.ToString(out.ETag), nil
}

// WriteMeta implements storage.MetaStore with one PUT (atomic in S3).
func (s *Store) WriteMeta(ctx context.Context, name string, data []byte) error {
	if err := storage.CheckMetaName(name); err != nil {
		return err
	}
	key := s.metaKey(name)
	_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
		Bucket: aws.String(s.loc.bucket), Key: aws.String(key),
		Body: bytes.NewReader(data), ContentLength: aws.Int64(int64(len(data))),
		ContentType: aws.String(contentType(name)),
	})
	return s.classify(ctx, "put", key, err)
}

// contentType lets a web server in front of the bucket serve a JSON
// metadata object as such.
func contentType(name string) string {
	if len(name) > 5 && name[len(name)-5:] == ".json" {
		return "application/json"
	}
	return "application/octet-stream"
}
