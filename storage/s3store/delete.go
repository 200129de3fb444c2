package s3store

import (
	"bytes"
	"context"
	"crypto/md5"
	"encoding/base64"
	"fmt"
	"io"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/aws/aws-sdk-go-v2/service/s3/types"
	"github.com/aws/smithy-go/middleware"
	smithyhttp "github.com/aws/smithy-go/transport/http"
	"github.com/strata-db/strata/storage"
)

// deleteBatch is S3's limit of keys per DeleteObjects request.
const deleteBatch = 1000

// Delete implements storage.Backend.
func (s *Store) Delete(ctx context.Context, files []storage.FileInfo) error {
	for len(files) > 0 {
		n := min(len(files), deleteBatch)
		if err := s.deleteObjects(ctx, files[:n]); err != nil {
			return err
		}
		files = files[n:]
	}
	return nil
}

func (s *Store) deleteObjects(ctx context.Context, files []storage.FileInfo) error {
	ids := make([]types.ObjectIdentifier, len(files))
	for i, f := range files {
		ids[i] = types.ObjectIdentifier{Key: aws.String(s.Key(f))}
	}
	out, err := s.client.DeleteObjects(ctx, &s3.DeleteObjectsInput{
		Bucket: aws.String(s.loc.bucket),
		Delete: &types.Delete{Objects: ids, Quiet: aws.Bool(true)},
	}, withContentMD5)
	if err != nil {
		return s.classify(ctx, "delete", *ids[0].Key, err)
	}
	for _, e := range out.Errors {
		code := aws.ToString(e.Code)
		if code == "NoSuchKey" {
			continue
		}
		err := &opError{op: "delete", object: s.loc.objectURL(aws.ToString(e.Key)),
			msg: code + ": " + aws.ToString(e.Message), err: fmt.Errorf("%s", code)}
		if transientCodes[code] {
			return storage.Transient(err)
		}
		return err
	}
	return nil
}

// withContentMD5 adds Content-MD5 to DeleteObjects: the SDK sends only a
// CRC32 checksum, and some S3-compatible servers insist on the MD5.
func withContentMD5(o *s3.Options) {
	o.APIOptions = append(o.APIOptions, func(stack *middleware.Stack) error {
		return stack.Build.Add(middleware.BuildMiddlewareFunc("StrataContentMD5", addContentMD5), middleware.After)
	})
}

func addContentMD5(ctx context.Context, in middleware.BuildInput, next middleware.BuildHandler) (middleware.BuildOutput, middleware.Metadata, error) {
	req, ok := in.Request.(*smithyhttp.Request)
	if !ok || req.GetStream() == nil || req.Header.Get("Content-MD5") != "" {
		return next.HandleBuild(ctx, in)
	}
	body, err := io.ReadAll(req.GetStream())
	if err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, fmt.Errorf("read DeleteObjects body: %w", err)
	}
	sum := md5.Sum(body)
	req.Header.Set("Content-MD5", base64.StdEncoding.EncodeToString(sum[:]))
	if req, err = req.SetStream(bytes.NewReader(body)); err != nil {
		return middleware.BuildOutput{}, middleware.Metadata{}, err
	}
	in.Request = req
	return next.HandleBuild(ctx, in)
}
