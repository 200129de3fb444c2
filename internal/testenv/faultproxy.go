package testenv

import (
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
)

// Fault is what a FaultProxy does to a request it picks.
type Fault int

const (
	// StallAnswer never answers: the request hangs until the client gives up.
	StallAnswer Fault = iota + 1
	// StallBody sends the headers and the first half of the body, then
	// nothing more.
	StallBody
	// Reset closes the connection (TCP RST) without answering.
	Reset
	// ServerError answers 503 Service Unavailable.
	ServerError
	// IgnoreRange answers a Range request with 200 and no Content-Range,
	// as a server that does not support ranges would.
	IgnoreRange
	// ShiftRange answers a Range request with bytes (and a Content-Range
	// saying so) that start one byte later than asked.
	ShiftRange
)

func (f Fault) String() string {
	return [...]string{"none", "stall-answer", "stall-body", "reset", "server-error", "ignore-range", "shift-range"}[f]
}

// rangeOnly reports whether the fault applies to range reads only.
func (f Fault) rangeOnly() bool { return f == StallBody || f == IgnoreRange || f == ShiftRange }

// FaultProxy forwards requests to a server and injects faults into chosen
// ones.
type FaultProxy struct {
	// URL is the proxy's base URL: use it as the endpoint.
	URL string
	// RewriteHost sends the server's own host in the Host header. By
	// default the client's is kept, which S3 signatures cover; servers
	// that route by Host (fake-gcs-server) need it rewritten. Set it
	// before the first request.
	RewriteHost bool
	// OnRequest, if set, sees every request before it is forwarded (to
	// record headers). Set it before the first request.
	OnRequest func(*http.Request)

	target *url.URL
	tr     *http.Transport
	srv    *httptest.Server
	done   chan struct{} // closed by Close: stalled handlers return

	mu       sync.Mutex // guards pending and statuses
	pending  []pendingFault
	statuses map[int]int

	requests atomic.Int64 // requests received
	faulted  atomic.Int64 // requests a fault was injected into
}

type pendingFault struct {
	fault Fault
	left  int
}

// NewFaultProxy starts a proxy in front of target (a base URL such as
// http://127.0.0.1:7070) until the test ends.
func NewFaultProxy(t testing.TB, target string) *FaultProxy {
	t.Helper()
	u, err := url.Parse(target)
	if err != nil {
		t.Fatal(err)
	}
	p := &FaultProxy{target: u, tr: &http.Transport{}, done: make(chan struct{})}
	p.srv = httptest.NewServer(p)
	p.URL = p.srv.URL
	t.Cleanup(p.Close)
	return p
}

// Close stops the proxy; requests it holds stalled end.
func (p *FaultProxy) Close() {
	select {
	case <-p.done:
		return
	default:
	}
	close(p.done)
	p.srv.CloseClientConnections()
	p.srv.Close()
	p.tr.CloseIdleConnections()
}

// Inject makes the next n requests that the fault applies to get it: range
// reads (GET with a Range header) for StallBody, IgnoreRange and
// ShiftRange; any request for the others. Faults queue in order.
func (p *FaultProxy) Inject(f Fault, n int) {
	p.mu.Lock()
	defer p.mu.Unlock()
	p.pending = append(p.pending, pendingFault{f, n})
}

// Pending is how many injected faults have not happened yet.
func (p *FaultProxy) Pending() int {
	p.mu.Lock()
	defer p.mu.Unlock()
	n := 0
	for _, f := range p.pending {
		n += f.left
	}
	return n
}

// Requests is how many requests the proxy received.
func (p *FaultProxy) Requests() int64 { return p.requests.Load() }

// Statuses counts the answers the proxy passed on from the server, by
// HTTP status (e.g. how many conditional reads were answered 304).
func (p *FaultProxy) Statuses() map[int]int {
	p.mu.Lock()
	defer p.mu.Unlock()
	out := make(map[int]int, len(p.statuses))
	for k, v := range p.statuses {
		out[k] = v
	}
	return out
}

// Faulted is how many requests got a fault.
func (p *FaultProxy) Faulted() int64 { return p.faulted.Load() }

func (p *FaultProxy) take(r *http.Request) Fault {
	isRange := r.Method == http.MethodGet && r.Header.Get("Range") != ""
	p.mu.Lock()
	defer p.mu.Unlock()
	for i := range p.pending {
		f := &p.pending[i]
		if f.left == 0 || (f.fault.rangeOnly() && !isRange) {
			continue
		}
		f.left--
		p.faulted.Add(1)
		return f.fault
	}
	return 0
}

func (p *FaultProxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	p.requests.Add(1)
	if p.OnRequest != nil {
		p.OnRequest(r)
	}
	fault := p.take(r)
	switch fault {
	case StallAnswer:
		p.stall(r)
		return
	case Reset:
		p.reset(w)
		return
	case ServerError:
		http.Error(w, "injected fault", http.StatusServiceUnavailable)
		return
	}
	out := r.Clone(r.Context())
	out.URL.Scheme, out.URL.Host = p.target.Scheme, p.target.Host
	out.RequestURI = ""
	out.Host = r.Host // signed by S3 clients
	if p.RewriteHost {
		out.Host = ""
	}
	resp, err := p.tr.RoundTrip(out)
	if err != nil {
		http.Error(w, "proxy: "+err.Error(), http.StatusBadGateway)
		return
	}
	defer resp.Body.Close()
	p.mu.Lock()
	if p.statuses == nil {
		p.statuses = map[int]int{}
	}
	p.statuses[resp.StatusCode]++
	p.mu.Unlock()
	var body io.Reader = resp.Body
	switch {
	case fault == IgnoreRange && resp.StatusCode == http.StatusPartialContent:
		resp.Header.Del("Content-Range")
		resp.StatusCode = http.StatusOK
	case fault == ShiftRange && resp.StatusCode == http.StatusPartialContent:
		if cr, ok := shift(resp.Header.Get("Content-Range")); ok && resp.ContentLength > 1 {
			_, _ = io.CopyN(io.Discard, resp.Body, 1)
			resp.Header.Set("Content-Range", cr)
			resp.Header.Set("Content-Length", strconv.FormatInt(resp.ContentLength-1, 10))
		}
	}
	for k, v := range resp.Header {
		w.Header()[k] = v
	}
	w.WriteHeader(resp.StatusCode)
	if fault == StallBody {
		_, _ = io.CopyN(w, body, max(resp.ContentLength/2, 1))
		w.(http.Flusher).Flush()
		p.stall(r)
		return
	}
	_, _ = io.Copy(w, body)
}

// shift moves a Content-Range's start one byte later.
func shift(cr string) (string, bool) {
	spec, ok := strings.CutPrefix(cr, "bytes ")
	rng, total, ok2 := strings.Cut(spec, "/")
	a, b, ok3 := strings.Cut(rng, "-")
	start, err := strconv.ParseInt(a, 10, 64)
	if !ok || !ok2 || !ok3 || err != nil {
		return "", false
	}
	return fmt.Sprintf("bytes %d-%s/%s", start+1, b, total), true
}

func (p *FaultProxy) stall(r *http.Request) {
	select {
	case <-r.Context().Done():
	case <-p.done:
	}
}

func (p *FaultProxy) reset(w http.ResponseWriter) {
	conn, _, err := w.(http.Hijacker).Hijack()
	if err != nil {
		return
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		_ = tc.SetLinger(0) // RST, not FIN
	}
	conn.Close()
}
