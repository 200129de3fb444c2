// Package httpx is the HTTP client every remote backend (S3, GCS, Azure,
// static HTTP) sends its requests through. It gives them three things:
//
//   - one connection pool per process (per TLS setting), shared by every
//     store and released when the last store using it closes, so that
//     opening and closing stores leaves no connections or goroutines behind;
//   - a watchdog per request: a request that gets no answer, or a body
//     that stops arriving, for longer than the store's timeout is cut
//     with a transient *StallError, which the storage layer retries;
//   - checks that the server answered a Range request with the bytes
//     asked for (a *RangeError otherwise, also transient, reported after
//     the retries as the server's fault).
package httpx

import (
	"crypto/tls"
	"crypto/x509"
	"fmt"
	"net"
	"net/http"
	"os"
	"sync"
	"time"
)

// Options select a connection pool and a store's timeout.
type Options struct {
	// Timeout bounds every wait for the server: for an answer after the
	// request was sent, and for the next bytes of a body sent or
	// received. Required.
	Timeout time.Duration
	// SkipVerify turns off TLS certificate verification (Litestream's
	// skipVerify, for self-signed test servers).
	SkipVerify bool
	// CABundle is a PEM file of extra root certificates (AWS_CA_BUNDLE).
	CABundle string
}

// Client is one store's HTTP client. Close it when the store closes.
type Client struct {
	// HTTP sends requests through the shared pool, with the watchdog and
	// the range checks.
	HTTP *http.Client
	key  poolKey
	once sync.Once
}

type poolKey struct {
	skipVerify bool
	caBundle   string
}

// pools holds the shared transports; mu guards the map and the reference
// counts in it. A transport lives while at least one Client uses it.
var (
	mu    sync.Mutex
	pools = map[poolKey]*pool{}
)

type pool struct {
	tr   *http.Transport
	refs int
}

// New returns a client over the shared pool for opts' TLS settings.
func New(opts Options) (*Client, error) {
	if opts.Timeout <= 0 {
		return nil, fmt.Errorf("httpx: no timeout")
	}
	key := poolKey{opts.SkipVerify, opts.CABundle}
	mu.Lock()
	defer mu.Unlock()
	p := pools[key]
	if p == nil {
		tr, err := newTransport(key)
		if err != nil {
			return nil, err
		}
		p = &pool{tr: tr}
		pools[key] = p
	}
	p.refs++
	rt := &guard{base: p.tr, timeout: opts.Timeout}
	return &Client{HTTP: &http.Client{Transport: rt}, key: key}, nil
}

// Close gives the client's share of the pool back; the last client of a
// pool closes its idle connections (and so their goroutines). Closing
// twice is harmless.
func (c *Client) Close() {
	c.once.Do(func() {
		mu.Lock()
		defer mu.Unlock()
		p := pools[c.key]
		if p == nil {
			return
		}
		if p.refs--; p.refs == 0 {
			delete(pools, c.key)
			p.tr.CloseIdleConnections()
		}
	})
}

func newTransport(key poolKey) (*http.Transport, error) {
	tlsConfig := &tls.Config{MinVersion: tls.VersionTLS12, InsecureSkipVerify: key.skipVerify}
	if key.caBundle != "" {
		pem, err := os.ReadFile(key.caBundle)
		if err != nil {
			return nil, fmt.Errorf("read CA bundle: %w", err)
		}
		roots, err := x509.SystemCertPool()
		if err != nil {
			roots = x509.NewCertPool()
		}
		if !roots.AppendCertsFromPEM(pem) {
			return nil, fmt.Errorf("CA bundle %s holds no PEM certificate", key.caBundle)
		}
		tlsConfig.RootCAs = roots
	}
	dialer := &net.Dialer{Timeout: 10 * time.Second, KeepAlive: 30 * time.Second}
	return &http.Transport{
		Proxy:               http.ProxyFromEnvironment,
		DialContext:         dialer.DialContext,
		TLSClientConfig:     tlsConfig,
		ForceAttemptHTTP2:   true,
		MaxIdleConns:        256,
		MaxIdleConnsPerHost: 64,
		IdleConnTimeout:     90 * time.Second,
		TLSHandshakeTimeout: 10 * time.Second,
		// The watchdog bounds waiting for headers, per store.
		ExpectContinueTimeout: time.Second,
	}, nil
}

// Pools is how many shared transports are alive, for tests of Close.
func Pools() int {
	mu.Lock()
	defer mu.Unlock()
	return len(pools)
}
