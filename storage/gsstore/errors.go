package gsstore

import (
	"context"
	"errors"
	"net"
	"net/http"

	"cloud.google.com/go/auth"
	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
	"google.golang.org/api/googleapi"
)

// opError reports a failed call with a short message, keeping the client's
// error reachable for errors.As.
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

// classify names the object, says what went wrong, and marks the error
// transient when retrying can help.
func (s *Store) classify(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &opError{op: op, object: s.loc.objectURL(key), err: err}
	var noCreds NoCredentialsError
	var authErr *auth.Error
	var apiErr *googleapi.Error
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		e.msg = ctx.Err().Error() // the caller gave up
	case errors.As(err, &noCreds):
		e.msg, e.class = noCreds.Error(), storage.ErrAuth
	case httpx.Find(err) != nil:
		h := httpx.Find(err)
		e.msg, e.err = h.Error(), h
	case errors.Is(err, gcs.ErrObjectNotExist):
		e.msg, e.class = "not found", storage.ErrNotFound
	case errors.Is(err, gcs.ErrBucketNotExist):
		e.msg, e.class = "bucket "+s.loc.bucket+" does not exist", storage.ErrNoReplica
	case errors.As(err, &authErr):
		e.msg, e.class = "could not get an access token (check GOOGLE_APPLICATION_CREDENTIALS or the service account)", storage.ErrAuth
	case errors.As(err, &apiErr):
		return s.classifyStatus(e, apiErr)
	case errors.As(err, &netErr):
		e.msg = netErr.Error()
		return storage.Transient(e)
	default:
		e.msg = err.Error()
	}
	return e
}

func (s *Store) classifyStatus(e *opError, apiErr *googleapi.Error) error {
	switch code := apiErr.Code; {
	case code == http.StatusNotModified:
		e.msg, e.class = "not modified", storage.ErrNotModified
	case code == http.StatusPreconditionFailed:
		// Only conditional creates send a precondition.
		e.msg, e.class = "already exists", storage.ErrExists
	case code == http.StatusNotFound && e.op == "list":
		e.msg, e.class = "bucket "+s.loc.bucket+" does not exist", storage.ErrNoReplica
	case code == http.StatusNotFound:
		e.msg, e.class = "not found", storage.ErrNotFound
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		e.msg, e.class = "access denied (check GOOGLE_APPLICATION_CREDENTIALS and the bucket's IAM roles)", storage.ErrAuth
	case code == http.StatusRequestedRangeNotSatisfiable:
		e.msg = "requested range is beyond the end of the object"
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		e.msg = http.StatusText(code)
		if apiErr.Message != "" {
			e.msg += ": " + apiErr.Message
		}
		return storage.Transient(e)
	default:
		e.msg = apiErr.Error()
	}
	return e
}
