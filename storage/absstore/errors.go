package absstore

import (
	"context"
	"errors"
	"net"
	"net/http"

	"github.com/Azure/azure-sdk-for-go/sdk/azcore"
	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob/bloberror"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
)

// opError reports a failed call with a short message, keeping the SDK's
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

// classify names the blob, says what went wrong, and marks the error
// transient when retrying can help.
func (s *Store) classify(ctx context.Context, op, key string, err error) error {
	if err == nil {
		return nil
	}
	e := &opError{op: op, object: s.loc.objectURL(key), err: err}
	var respErr *azcore.ResponseError
	var noCreds NoCredentialsError
	var netErr net.Error
	switch {
	case ctx.Err() != nil:
		e.msg = ctx.Err().Error() // the caller gave up
	case errors.As(err, &noCreds):
		e.msg, e.class = noCreds.Error(), storage.ErrAuth
	case httpx.Find(err) != nil:
		h := httpx.Find(err)
		e.msg, e.err = h.Error(), h
	case errors.As(err, &respErr):
		return s.classifyResponse(e, respErr)
	case errors.As(err, &netErr):
		e.msg = netErr.Error()
		return storage.Transient(e)
	case errors.As(err, new(interface{ NonRetriable() })):
		// azidentity's errors (no credential in the chain, a refused
		// token) fail before any response: say how to fix it.
		e.msg, e.class = NoCredentialsError{}.Error(), storage.ErrAuth
	default:
		e.msg = err.Error()
	}
	return e
}

func (s *Store) classifyResponse(e *opError, r *azcore.ResponseError) error {
	code := bloberror.Code(r.ErrorCode)
	switch {
	case r.StatusCode == http.StatusNotModified:
		e.msg, e.class = "not modified", storage.ErrNotModified
	case code == bloberror.ContainerNotFound:
		e.msg, e.class = "container "+s.loc.container+" does not exist", storage.ErrNoReplica
	case code == bloberror.BlobNotFound || r.StatusCode == http.StatusNotFound:
		e.msg, e.class = "not found", storage.ErrNotFound
	case code == bloberror.BlobAlreadyExists || code == bloberror.ConditionNotMet || r.StatusCode == http.StatusPreconditionFailed:
		// Only conditional creates send a precondition.
		e.msg, e.class = "already exists", storage.ErrExists
	case code == bloberror.AuthenticationFailed || code == bloberror.AuthorizationFailure ||
		r.StatusCode == http.StatusUnauthorized || r.StatusCode == http.StatusForbidden:
		e.msg, e.class = "access denied (check "+KeyEnv+", the SAS token or the role assignment)", storage.ErrAuth
	case code == bloberror.InvalidRange || r.StatusCode == http.StatusRequestedRangeNotSatisfiable:
		e.msg = "requested range is beyond the end of the blob"
	case code == bloberror.ServerBusy || code == bloberror.OperationTimedOut ||
		r.StatusCode == http.StatusTooManyRequests || r.StatusCode == http.StatusRequestTimeout || r.StatusCode >= 500:
		e.msg = http.StatusText(r.StatusCode)
		if r.ErrorCode != "" {
			e.msg = r.ErrorCode
		}
		return storage.Transient(e)
	default:
		e.msg = http.StatusText(r.StatusCode)
		if r.ErrorCode != "" {
			e.msg += " (" + r.ErrorCode + ")"
		}
	}
	return e
}
