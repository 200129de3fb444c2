// Package proxy is an HTTP reverse proxy for benchmarks: it sits in front of
// an S3 endpoint on the loopback interface, makes every request pay a fixed
// round-trip latency (and optionally a bandwidth cap), and counts what goes
// through it. Against object storage, speed is counted in round trips; this
// proxy makes them visible on a laptop.
package proxy

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/http/httputil"
	"net/url"
	"strings"
	"time"
)

// Options tune a Proxy.
type Options struct {
	// Latency is added to every request before it is forwarded, so it is
	// paid as time to first byte, like a round trip to a remote store.
	Latency time.Duration
	// Bandwidth caps each response body at this many bytes per second;
	// 0 means unlimited. The cap is per response, as S3 throughput is per
	// connection: concurrent requests add up.
	Bandwidth int64
}

// DefaultLatency is a typical first-byte latency of S3 from the same region.
const DefaultLatency = 20 * time.Millisecond

// Proxy forwards requests to one S3 endpoint. Create it with New.
type Proxy struct {
	opts    Options
	target  *url.URL
	rp      *httputil.ReverseProxy
	rec     *recorder
	srv     *http.Server
	ln      net.Listener
	stopped chan struct{}
}

// New returns a proxy to target (e.g. "http://127.0.0.1:7070"). It does not
// listen until Start; it can also be mounted as an http.Handler.
func New(target string, opts Options) (*Proxy, error) {
	u, err := url.Parse(target)
	if err != nil || (u.Scheme != "http" && u.Scheme != "https") || u.Host == "" {
		return nil, fmt.Errorf("proxy target %q: want http(s)://host:port", target)
	}
	if opts.Latency < 0 || opts.Bandwidth < 0 {
		return nil, fmt.Errorf("proxy: latency and bandwidth must not be negative")
	}
	p := &Proxy{opts: opts, target: u, rec: newRecorder()}
	p.rp = &httputil.ReverseProxy{
		Rewrite:        p.rewrite,
		Transport:      newTransport(),
		ModifyResponse: p.modifyResponse,
		ErrorHandler:   p.errorHandler,
		ErrorLog:       log.New(io.Discard, "", 0),
		// Flush as bytes arrive so that throttled bodies trickle out
		// instead of arriving in bursts.
		FlushInterval: -1,
	}
	return p, nil
}

func newTransport() *http.Transport {
	t := http.DefaultTransport.(*http.Transport).Clone()
	// A VFS may fetch many ranges at once; the proxy must not be the
	// bottleneck that serializes them.
	t.MaxIdleConns = 512
	t.MaxIdleConnsPerHost = 256
	// Compression would make byte counts lie about what S3 sends.
	t.DisableCompression = true
	return t
}

// rewrite points the request at the target but keeps the Host header the
// client sent: SigV4 signs it, so changing it would break every request.
func (p *Proxy) rewrite(pr *httputil.ProxyRequest) {
	pr.Out.URL.Scheme = p.target.Scheme
	pr.Out.URL.Host = p.target.Host
	pr.Out.Host = pr.In.Host
}

// Start listens on addr ("127.0.0.1:0" picks a free port) and serves in
// the background until Close.
func (p *Proxy) Start(addr string) error {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return fmt.Errorf("proxy listen on %s: %w", addr, err)
	}
	p.ln = ln
	p.srv = &http.Server{Handler: p, ReadHeaderTimeout: 30 * time.Second}
	p.stopped = make(chan struct{})
	go func() {
		defer close(p.stopped)
		_ = p.srv.Serve(ln)
	}()
	return nil
}

// URL is the proxy's base URL once started, e.g. http://127.0.0.1:41234.
func (p *Proxy) URL() string {
	if p.ln == nil {
		return ""
	}
	return "http://" + p.ln.Addr().String()
}

// Close stops listening and drops open connections.
func (p *Proxy) Close() error {
	if p.srv == nil {
		return nil
	}
	err := p.srv.Close()
	<-p.stopped
	p.rp.Transport.(*http.Transport).CloseIdleConnections()
	return err
}

// ServeHTTP delays, forwards and records one request. Paths under
// ControlPath are answered by the proxy itself.
func (p *Proxy) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	if strings.HasPrefix(r.URL.Path, ControlPath) {
		p.serveControl(w, r)
		return
	}
	start := time.Now()
	p.rec.begin(r)
	defer func() { p.rec.finish(time.Since(start)) }()
	if r.Body != nil && r.Body != http.NoBody {
		r.Body = &countingBody{ReadCloser: r.Body, n: &p.rec.reqBytes}
	}
	if err := sleep(r.Context(), p.opts.Latency); err != nil {
		p.rec.failed() // the client gave up while waiting
		return
	}
	p.rp.ServeHTTP(w, r)
}

func (p *Proxy) modifyResponse(resp *http.Response) error {
	if resp.StatusCode >= 400 {
		p.rec.failed()
	}
	var body io.ReadCloser = &countingBody{ReadCloser: resp.Body, n: &p.rec.respBytes}
	if p.opts.Bandwidth > 0 {
		body = newThrottledBody(body, p.opts.Bandwidth)
	}
	resp.Body = body
	return nil
}

func (p *Proxy) errorHandler(w http.ResponseWriter, r *http.Request, err error) {
	p.rec.failed()
	if errors.Is(err, context.Canceled) {
		return // the client went away; nobody reads an answer
	}
	http.Error(w, "bench proxy: "+err.Error(), http.StatusBadGateway)
}

// sleep waits d, or less if ctx ends first.
func sleep(ctx context.Context, d time.Duration) error {
	if d <= 0 {
		return nil
	}
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return nil
	}
}
