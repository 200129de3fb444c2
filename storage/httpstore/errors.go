package httpstore

import (
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/internal/httpx"
)

// requestError classifies a request that got no answer.
func (s *Store) requestError(op, rel string, err error) error {
	e := fmt.Errorf("%s %s: %w", op, s.loc.objectURL(rel), unwrapURL(err))
	var netErr net.Error
	if h := httpx.Find(err); h != nil {
		return fmt.Errorf("%s %s: %w", op, s.loc.objectURL(rel), h)
	}
	if errors.As(err, &netErr) || errors.Is(err, io.ErrUnexpectedEOF) || errors.Is(err, io.EOF) {
		return storage.Transient(e)
	}
	return e
}

// unwrapURL drops the *url.Error wrapper, which repeats the URL.
func unwrapURL(err error) error {
	var u *url.Error
	if errors.As(err, &u) {
		return u.Err
	}
	return err
}

// statusError classifies an answer that is not a success.
func (s *Store) statusError(op, rel string, resp *http.Response) error {
	_, _ = io.Copy(io.Discard, io.LimitReader(resp.Body, 4<<10)) // keep the connection
	what := fmt.Sprintf("%s %s: %s", op, s.loc.objectURL(rel), resp.Status)
	switch code := resp.StatusCode; {
	case code == http.StatusNotFound || code == http.StatusGone:
		return fmt.Errorf("%s: %w", what, storage.ErrNotFound)
	case code == http.StatusUnauthorized || code == http.StatusForbidden:
		return fmt.Errorf("%s (the server refuses access): %w", what, storage.ErrAuth)
	case code == http.StatusRequestedRangeNotSatisfiable:
		return fmt.Errorf("%s: requested range is beyond the end of the file", what)
	case code == http.StatusTooManyRequests || code == http.StatusRequestTimeout || code >= 500:
		return storage.Transient(errors.New(what))
	}
	return errors.New(what)
}
