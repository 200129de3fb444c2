package integration

import (
	"context"
	"errors"
	"io"
	"log"
	"math/rand/v2"
	"net/http"
	"net/http/httptest"
	"net/http/httputil"
	"net/url"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"
)

// faults says what a faultProxy does to the requests it forwards.
type faults struct {
	// ErrorRate is the share of GET requests (object reads and listings)
	// answered with Status (default 503) instead of being forwarded.
	ErrorRate float64
	Status    int
	// ShortRate is the share of object reads whose body is cut in half:
	// the client is promised the whole body and the connection is dropped.
	ShortRate float64
	// MaxLatency delays every request by a random time up to it.
	MaxLatency time.Duration
	// Latency delays every request by exactly this much (a round trip).
	Latency time.Duration

	// PUT faults (uploads; the parts of a multipart upload are PUTs too).
	// PutErrorRate is the share answered with PutStatus (default 503)
	// without reaching the server; PutResetRate the share whose
	// connection is dropped before they reach it; PutLostRate the share
	// forwarded to the server, which stores the object, and whose answer
	// is then lost (the connection is dropped): the client cannot know
	// the upload succeeded.
	PutErrorRate, PutResetRate, PutLostRate float64
	PutStatus                               int
}

// faultProxy is an HTTP proxy in front of an S3 server that injects
// faults and counts requests by kind. It keeps the client's Host header,
// so that SigV4 signatures made for the proxy's address stay valid.
type faultProxy struct {
	srv *httptest.Server

	mu  sync.Mutex
	f   faults
	rng *rand.Rand

	lists, gets, puts, other, injected atomic.Int64
	bytes                              atomic.Int64 // response bytes read by clients
	// putsLost counts PUTs the server stored whose answer was dropped.
	putsLost atomic.Int64
}

func newFaultProxy(t testing.TB, target string) *faultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &faultProxy{rng: rand.New(rand.NewPCG(7, 11))}
	rp := &httputil.ReverseProxy{
		Rewrite: func(pr *httputil.ProxyRequest) {
			pr.SetURL(u)
			pr.Out.Host = pr.In.Host
		},
		ModifyResponse: p.modifyResponse,
		ErrorLog:       log.New(io.Discard, "", 0),
	}
	p.srv = httptest.NewServer(p.handler(rp))
	t.Cleanup(p.srv.Close)
	return p
}

// URL is the proxy's endpoint.
func (p *faultProxy) URL() string { return p.srv.URL }

// set changes the faults from the next request on.
func (p *faultProxy) set(f faults) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.f = f
}

// resetCounts zeroes the request counters.
func (p *faultProxy) resetCounts() {
	p.lists.Store(0)
	p.gets.Store(0)
	p.puts.Store(0)
	p.other.Store(0)
	p.injected.Store(0)
	p.putsLost.Store(0)
	p.bytes.Store(0)
}

// roll returns the current faults and a random number in [0, 1).
func (p *faultProxy) roll() (faults, float64, time.Duration) {
	p.mu.Lock()
	defer p.mu.Unlock()
	d := p.f.Latency
	if p.f.MaxLatency > 0 {
		d += time.Duration(p.rng.Int64N(int64(p.f.MaxLatency)))
	}
	return p.f, p.rng.Float64(), d
}

func isList(r *http.Request) bool {
	return r.Method == http.MethodGet && (r.URL.Query().Has("list-type") || strings.Count(strings.Trim(r.URL.Path, "/"), "/") == 0)
}

func (p *faultProxy) handler(next http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		list := isList(r)
		switch {
		case list:
			p.lists.Add(1)
		case r.Method == http.MethodGet:
			p.gets.Add(1)
		case r.Method == http.MethodPut:
			p.puts.Add(1)
		default:
			p.other.Add(1)
		}
		f, x, delay := p.roll()
		if delay > 0 {
			time.Sleep(delay)
		}
		if r.Method == http.MethodPut && p.putFault(w, r, next, f, x) {
			return
		}
		if r.Method == http.MethodGet && x < f.ErrorRate {
			p.injected.Add(1)
			status := f.Status
			if status == 0 {
				status = http.StatusServiceUnavailable
			}
			code := map[int]string{500: "InternalError", 503: "ServiceUnavailable", 403: "AccessDenied"}[status]
			w.Header().Set("Content-Type", "application/xml")
			w.WriteHeader(status)
			io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>injected by the test proxy</Message></Error>`)
			return
		}
		if !list && r.Method == http.MethodGet && x < f.ErrorRate+f.ShortRate {
			p.injected.Add(1)
			r = r.WithContext(context.WithValue(r.Context(), shortKey{}, true))
		}
		next.ServeHTTP(w, r)
	})
}

// putFault injects the PUT faults f selects by the roll x; it reports
// whether it answered the request (or dropped it).
func (p *faultProxy) putFault(w http.ResponseWriter, r *http.Request, next http.Handler, f faults, x float64) bool {
	switch {
	case x < f.PutErrorRate:
		p.injected.Add(1)
		status := f.Status
		if f.PutStatus != 0 {
			status = f.PutStatus
		}
		if status == 0 {
			status = http.StatusServiceUnavailable
		}
		code := map[int]string{500: "InternalError", 503: "ServiceUnavailable", 403: "AccessDenied"}[status]
		w.Header().Set("Content-Type", "application/xml")
		w.WriteHeader(status)
		io.WriteString(w, `<?xml version="1.0" encoding="UTF-8"?><Error><Code>`+code+`</Code><Message>injected by the test proxy</Message></Error>`)
		return true
	case x < f.PutErrorRate+f.PutResetRate:
		p.injected.Add(1)
		_, _ = io.Copy(io.Discard, r.Body)
		drop(w)
		return true
	case x < f.PutErrorRate+f.PutResetRate+f.PutLostRate:
		rec := httptest.NewRecorder()
		next.ServeHTTP(rec, r)
		if rec.Code/100 == 2 {
			p.injected.Add(1)
			p.putsLost.Add(1)
			drop(w)
			return true
		}
		// Not stored (e.g. 412): the answer goes through.
		for k, v := range rec.Header() {
			w.Header()[k] = v
		}
		w.WriteHeader(rec.Code)
		_, _ = w.Write(rec.Body.Bytes())
		return true
	}
	return false
}

// drop closes the client's connection without an answer.
func drop(w http.ResponseWriter) {
	if hj, ok := w.(http.Hijacker); ok {
		if conn, _, err := hj.Hijack(); err == nil {
			conn.Close()
			return
		}
	}
	panic(http.ErrAbortHandler) // the server drops the connection
}

// shortKey marks a request whose response body is to be cut short.
type shortKey struct{}

// modifyResponse cuts marked bodies in half; the reverse proxy then drops
// the connection, and the client sees fewer bytes than Content-Length.
func (p *faultProxy) modifyResponse(resp *http.Response) error {
	resp.Body = &countedBody{ReadCloser: resp.Body, n: &p.bytes}
	if resp.Request.Context().Value(shortKey{}) == nil || resp.StatusCode/100 != 2 || resp.ContentLength < 2 {
		return nil
	}
	resp.Body = &halfBody{rc: resp.Body, left: resp.ContentLength / 2}
	return nil
}

// countedBody counts the bytes of a response that the client reads.
type countedBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countedBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}

var errCut = errors.New("body cut short by the test proxy")

type halfBody struct {
	rc   io.ReadCloser
	left int64
}

func (h *halfBody) Read(b []byte) (int, error) {
	if h.left <= 0 {
		return 0, errCut
	}
	if int64(len(b)) > h.left {
		b = b[:h.left]
	}
	n, err := h.rc.Read(b)
	h.left -= int64(n)
	return n, err
}

func (h *halfBody) Close() error { return h.rc.Close() }
