package s3store

import (
	"context"
	"errors"
	"io"
	"net"
	"strings"
	"syscall"

	awshttp "github.com/aws/aws-sdk-go-v2/aws/transport/http"
	"github.com/aws/smithy-go"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
)

// opError reports a failed S3 call with a short message instead of the
// SDK's long one, while keeping the SDK error reachable for errors.As.
type opError struct {
	op, object, msg string
	class           error // a storage sentinel the error matches, or nil
	err             error
}

func (e *opError) Error() string { return e.op + " " + e.object + ": " + e.msg }

func (e *opError) Unwrap() []error {
	if e.class != nil {
		return []error{e.class, e.err}
	}
	return []error{e.err}
}

// classify turns an SDK error into an error that names the object, says
// what went wrong and is marked transient when retrying can help.
func (s *Store) classify(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &opError{op: op, object: s.loc.objectURL(key), err: err}
	if ctx.Err() != nil {
		// The caller gave up; retrying would not help.
		e.msg = ctx.Err().Error()
		return e
	}
	var noCreds NoCredentialsError
	if errors.As(err, &noCreds) {
		e.msg, e.class = noCreds.Error(), storage.ErrAuth
		return e
	}
	if h := httpx.Find(err); h != nil {
		// A stall, a range fault, plain HTTP on https: the message says
		// it all, and the error says whether it is transient.
		e.msg, e.err = h.Error(), h
		return e
	}
	code, status := apiCode(err)
	if isNotFound(code, status) {
		e.msg, e.class = "not found", storage.ErrNotFound
		return e
	}
	if status == 304 {
		e.msg, e.class = "not modified", storage.ErrNotModified
		return e
	}
	if code == "PreconditionFailed" || status == 412 {
		// Only conditional creates send a precondition.
		e.msg, e.class = "already exists", storage.ErrExists
		return e
	}
	if msg, class, ok := permanentMessage(code, status, s.loc.bucket); ok {
		e.msg, e.class = msg, class
		return e
	}
	e.msg = shortMessage(err, code)
	if isTransient(err, code, status) {
		return storage.Transient(e)
	}
	return e
}

// apiCode extracts the S3 error code and HTTP status, if the server answered.
func apiCode(err error) (string, int) {
	var code string
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) {
		code = apiErr.ErrorCode()
	}
	var respErr *awshttp.ResponseError
	if errors.As(err, &respErr) {
		return code, respErr.HTTPStatusCode()
	}
	return code, 0
}

// isNotFound is true only when the object itself is missing: some servers
// answer 404 for other reasons too (versitygw: unknown access key).
func isNotFound(code string, status int) bool {
	return code == "NoSuchKey" || (status == 404 && (code == "" || code == "NotFound"))
}

// permanentMessage says what a permanent failure means, and which storage
// sentinel (if any) it matches.
func permanentMessage(code string, status int, bucket string) (string, error, bool) {
	switch {
	case code == "NoSuchBucket":
		return "bucket " + bucket + " does not exist", storage.ErrNoReplica, true
	case code == "InvalidAccessKeyId" || code == "XAdminUserNotFound":
		return "access key not known to the server (check AWS_ACCESS_KEY_ID)", storage.ErrAuth, true
	case code == "SignatureDoesNotMatch":
		return "signature does not match (check AWS_SECRET_ACCESS_KEY)", storage.ErrAuth, true
	case code == "ExpiredToken" || code == "InvalidToken":
		return "session token expired or invalid (check AWS_SESSION_TOKEN)", storage.ErrAuth, true
	case code == "AccessDenied" || status == 403:
		return "access denied (check AWS_ACCESS_KEY_ID/AWS_SECRET_ACCESS_KEY and the bucket policy)", storage.ErrAuth, true
	case code == "PermanentRedirect" || code == "AuthorizationHeaderMalformed" || status == 301:
		return "bucket " + bucket + " is in another region (set ?region=)", nil, true
	case code == "InvalidRange" || status == 416:
		return "requested range is beyond the end of the object", nil, true
	}
	return "", nil, false
}

var transientCodes = map[string]bool{
	"SlowDown": true, "RequestTimeout": true,
	"InternalError": true, "ServiceUnavailable": true, "Throttling": true,
	"ThrottlingException": true, "RequestLimitExceeded": true, "TooManyRequests": true,
}

func isTransient(err error, code string, status int) bool {
	if transientCodes[code] || status >= 500 || status == 429 {
		return true
	}
	var netErr net.Error
	if errors.As(err, &netErr) {
		return true // timeouts, refused or reset connections, DNS trouble
	}
	return errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) ||
		errors.Is(err, syscall.ECONNREFUSED) || errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, syscall.EPIPE) || errors.Is(err, context.DeadlineExceeded) ||
		strings.Contains(err.Error(), "connection reset")
}

// shortMessage keeps the useful end of an SDK error: the server's code and
// message, or the network error, without the request metadata.
func shortMessage(err error, code string) string {
	var apiErr smithy.APIError
	if errors.As(err, &apiErr) && code != "" {
		if m := apiErr.ErrorMessage(); m != "" {
			return code + ": " + m
		}
		return code
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Error()
	}
	return err.Error()
}

// bodyReader marks failures while streaming a response body as transient:
// the object exists, the connection just broke.
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
