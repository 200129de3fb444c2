package s3store

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"time"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/strata-db/strata/storage"
)

// partSize bounds the memory one Write holds. Files up to this size are
// sent with a single PUT; larger ones as a multipart upload of parts this
// size (S3's 10,000-part limit then allows files up to ~80 GiB).
const partSize = 8 << 20

const maxParts = 10000

// Write implements storage.Backend.
func (s *Store) Write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(ctx, f, timestamp, r, nil)
}

// WriteNew implements storage.ExclusiveWriter with S3's conditional write
// (If-None-Match: *): of two concurrent creators, exactly one succeeds.
func (s *Store) WriteNew(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader) error {
	return s.write(ctx, f, timestamp, r, aws.String("*"))
}

func (s *Store) write(ctx context.Context, f storage.FileInfo, timestamp time.Time, r io.Reader, ifNoneMatch *string) error {
	key := s.Key(f)
	head, err := io.ReadAll(io.LimitReader(r, partSize))
	if err != nil {
		return fmt.Errorf("upload %s: read source: %w", s.loc.objectURL(key), err)
	}
	meta := metadata(timestamp)
	if len(head) < partSize {
		_, err := s.client.PutObject(ctx, &s3.PutObjectInput{
			Bucket: aws.String(s.loc.bucket), Key: aws.String(key),
			Body: bytes.NewReader(head), ContentLength: aws.Int64(int64(len(head))),
			Metadata: meta, IfNoneMatch: ifNoneMatch,
		})
		return s.classify(ctx, "put", key, err)
	}
	return s.multipart(ctx, key, meta, head[:partSize], r, ifNoneMatch)
}

func metadata(timestamp time.Time) map[string]string {
	if timestamp.IsZero() {
		return nil
	}
	return map[string]string{TimestampKey: timestamp.UTC().Format(time.RFC3339Nano)}
}

// multipart uploads buf, then the rest of r, reusing buf for every part.
func (s *Store) multipart(ctx context.Context, key string, meta map[string]string, buf []byte, r io.Reader, ifNoneMatch *string) (err error) {
	created, err := s.client.CreateMultipartUpload(ctx, &s3.CreateMultipartUploadInput{
		Bucket: aws.String(s.loc.bucket), Key: aws.String(key), Metadata: meta,
	})
	if err != nil {
		return s.classify(ctx, "start upload of", key, err)
	}
	id := created.UploadId
	defer func() {
		if err != nil {
			s.abort(ctx, key, id)
		}
	}()
	var parts []types.CompletedPart
	for chunk := buf; len(chunk) > 0; {
		if len(parts) == maxParts {
			return fmt.Errorf("upload %s: larger than %d parts of %d bytes", s.loc.objectURL(key), maxParts, partSize)
		}
		part, err := s.uploadPart(ctx, key, id, int32(len(parts)+1), chunk)
		if err != nil {
			return err
		}
		parts = append(parts, part)
		n, rerr := io.ReadFull(r, buf)
		if rerr != nil && rerr != io.EOF && rerr != io.ErrUnexpectedEOF {
			return fmt.Errorf("upload %s: read source: %w", s.loc.objectURL(key), rerr)
		}
		chunk = buf[:n]
	}
	_, err = s.client.CompleteMultipartUpload(ctx, &s3.CompleteMultipartUploadInput{
		Bucket: aws.String(s.loc.bucket), Key: aws.String(key), UploadId: id,
		MultipartUpload: &types.CompletedMultipartUpload{Parts: parts},
		IfNoneMatch:     ifNoneMatch,
	})
	return s.classify(ctx, "complete upload of", key, err)
}

func (s *Store) uploadPart(ctx context.Context, key string, id *string, n int32, chunk []byte) (types.CompletedPart, error) {
	out, err := s.client.UploadPart(ctx, &s3.UploadPartInput{
		Bucket: aws.String(s.loc.bucket), Key: aws.String(key), UploadId: id,
		PartNumber: aws.Int32(n), Body: bytes.NewReader(chunk),
		ContentLength: aws.Int64(int64(len(chunk))),
	})
	if err != nil {
		return types.CompletedPart{}, s.classify(ctx, fmt.Sprintf("upload part %d of", n), key, err)
	}
	return types.CompletedPart{ETag: out.ETag, PartNumber: aws.Int32(n)}, nil
}

// abort discards the parts of a failed upload so they do not accrue
// storage costs. It runs even when ctx was cancelled, briefly.
func (s *Store) abort(ctx context.Context, key string, id *string) {
	ctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 10*time.Second)
	defer cancel()
	_, _ = s.client.AbortMultipartUpload(ctx, &s3.AbortMultipartUploadInput{
		Bucket: aws.String(s.loc.bucket), Key: aws.String(key), UploadId: id,
	})
}
