package httpx

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"io"
	"net/http"
	"sync/atomic"
	"time"

	"github.com/strata-db/strata/storage"
)

// StallError is how a request the watchdog cut fails: the server sent
// nothing for After while the request waited in Phase. It is transient
// and a timeout (net.Error), so every retry layer retries it.
type StallError struct {
	Phase string // "sending the request", "waiting for the answer", "reading the body"
	After time.Duration
}

func (e *StallError) Error() string {
	return fmt.Sprintf("server stalled: nothing for %s while %s (cut; set timeout= or %s to wait longer)",
		e.After, e.Phase, storage.RequestTimeoutEnv)
}

// Timeout makes a StallError a net.Error timeout.
func (e *StallError) Timeout() bool { return true }

// Temporary is what older retry code asks of a net.Error.
func (e *StallError) Temporary() bool { return true }

// Unwrap marks the error transient.
func (e *StallError) Unwrap() error { return storage.ErrTransient }

// SchemeError is a plain-HTTP server reached with https: permanent, and
// the fix is in the URL.
type SchemeError struct{ Host string }

func (e *SchemeError) Error() string {
	return fmt.Sprintf("%s answered with plain HTTP to an https request: write the endpoint as http://%s", e.Host, e.Host)
}

// Handled reports whether err was made by this package (a stall, a range
// fault, a scheme mismatch). SDK retry loops leave those to the storage
// layer's retry policy, so that one operation is retried once, not once per
// layer.
func Handled(err error) bool { return Find(err) != nil }

// Find returns the error this package made in err's chain, or nil.
func Find(err error) error {
	var s *StallError
	var r *RangeError
	var m *SchemeError
	switch {
	case errors.As(err, &s):
		return s
	case errors.As(err, &r):
		return r
	case errors.As(err, &m):
		return m
	}
	return nil
}

// guard is the RoundTripper of a store: the watchdog and the range check
// over the shared transport.
type guard struct {
	base    http.RoundTripper
	timeout time.Duration
}

// watchdog cancels a request's context with a *StallError when it is not
// fed for timeout. phase says what the request was waiting for.
type watchdog struct {
	timer   *time.Timer
	timeout time.Duration
	phase   atomic.Pointer[string]
}

func newWatchdog(timeout time.Duration, cancel context.CancelCauseFunc, phase string) *watchdog {
	w := &watchdog{timeout: timeout}
	w.phase.Store(&phase)
	w.timer = time.AfterFunc(timeout, func() {
		cancel(&StallError{Phase: *w.phase.Load(), After: timeout})
	})
	return w
}

func (w *watchdog) feed(phase string) {
	w.phase.Store(&phase)
	w.timer.Reset(w.timeout)
}

func (w *watchdog) stop() { w.timer.Stop() }

// stalled returns the StallError that cut ctx, or err itself.
func stalled(ctx context.Context, err error) error {
	var s *StallError
	if cause := context.Cause(ctx); errors.As(cause, &s) {
		return s
	}
	return err
}

func (g *guard) RoundTrip(req *http.Request) (*http.Response, error) {
	ctx, cancel := context.WithCancelCause(req.Context())
	w := newWatchdog(g.timeout, cancel, "waiting for the answer")
	r := req.WithContext(ctx)
	if req.Body != nil && req.Body != http.NoBody {
		w.feed("sending the request")
		r.Body = &sendBody{ReadCloser: req.Body, w: w}
	}
	resp, err := g.base.RoundTrip(r)
	w.stop()
	if err != nil {
		err = stalled(ctx, err)
		cancel(nil)
		var tlsErr tls.RecordHeaderError
		if errors.Is(err, http.ErrSchemeMismatch) || (errors.As(err, &tlsErr) && string(tlsErr.RecordHeader[:]) == "HTTP/") {
			return nil, &SchemeError{Host: req.URL.Host}
		}
		return nil, err
	}
	if err := checkRange(req, resp); err != nil {
		resp.Body.Close()
		cancel(nil)
		return nil, err
	}
	bw := newWatchdog(g.timeout, cancel, "reading the body")
	bw.stop() // armed only while a Read waits
	resp.Body = &recvBody{body: resp.Body, ctx: ctx, cancel: cancel, w: bw}
	return resp, nil
}

// sendBody feeds the watchdog while the transport reads the request body:
// an upload the server stops accepting stalls.
type sendBody struct {
	io.ReadCloser
	w *watchdog
}

func (b *sendBody) Read(p []byte) (int, error) {
	n, err := b.ReadCloser.Read(p)
	if err == io.EOF {
		b.w.feed("waiting for the answer")
	} else {
		b.w.feed("sending the request")
	}
	return n, err
}

// recvBody arms the watchdog while a Read waits for the server, and only
// then: a caller that reads slowly is not a stalled server.
type recvBody struct {
	body   io.ReadCloser
	ctx    context.Context
	cancel context.CancelCauseFunc
	w      *watchdog
}

func (b *recvBody) Read(p []byte) (int, error) {
	b.w.feed("reading the body")
	n, err := b.body.Read(p)
	b.w.stop()
	if err != nil && err != io.EOF {
		err = stalled(b.ctx, err)
	}
	return n, err
}

func (b *recvBody) Close() error {
	b.w.stop()
	err := b.body.Close()
	b.cancel(nil)
	return err
}
