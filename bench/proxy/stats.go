package proxy

import (
	"io"
	"net/http"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"
)

// Stats is what went through the proxy since it started or was Reset.
type Stats struct {
	Requests int64            `json:"requests"`
	ByMethod map[string]int64 `json:"by_method"`
	// RangeGETs counts GETs with a Range header: page and index reads.
	RangeGETs int64 `json:"range_gets"`
	// Lists counts bucket listings (GET on a bucket, not an object).
	Lists int64 `json:"lists"`
	// Errors counts answers with status >= 400 and failed forwards.
	Errors        int64 `json:"errors"`
	RequestBytes  int64 `json:"request_bytes"`
	ResponseBytes int64 `json:"response_bytes"`
	// Latency is per request, from arrival at the proxy to the last byte
	// of the answer, injected latency included.
	Latency Percentiles `json:"latency,omitzero"`
}

// Percentiles summarize a set of durations (nearest-rank).
type Percentiles struct {
	P50 time.Duration `json:"p50_ns"`
	P95 time.Duration `json:"p95_ns"`
	P99 time.Duration `json:"p99_ns"`
	Max time.Duration `json:"max_ns"`
}

// PercentilesOf summarizes d; it does not modify d.
func PercentilesOf(d []time.Duration) Percentiles {
	if len(d) == 0 {
		return Percentiles{}
	}
	s := slices.Clone(d)
	slices.Sort(s)
	return Percentiles{P50: rank(s, 50), P95: rank(s, 95), P99: rank(s, 99), Max: s[len(s)-1]}
}

// rank is the nearest-rank percentile of sorted s.
func rank(s []time.Duration, pct int) time.Duration {
	i := (pct*len(s)+99)/100 - 1
	return s[max(i, 0)]
}

// Sub returns the counts of s minus those of earlier, for measuring one
// phase. Latency percentiles cannot be subtracted and are left zero.
func (s Stats) Sub(earlier Stats) Stats {
	d := Stats{
		Requests:      s.Requests - earlier.Requests,
		RangeGETs:     s.RangeGETs - earlier.RangeGETs,
		Lists:         s.Lists - earlier.Lists,
		Errors:        s.Errors - earlier.Errors,
		RequestBytes:  s.RequestBytes - earlier.RequestBytes,
		ResponseBytes: s.ResponseBytes - earlier.ResponseBytes,
		ByMethod:      map[string]int64{},
	}
	for m, n := range s.ByMethod {
		if n -= earlier.ByMethod[m]; n != 0 {
			d.ByMethod[m] = n
		}
	}
	return d
}

// Stats returns a snapshot of the counters.
func (p *Proxy) Stats() Stats { return p.rec.stats() }

// Reset zeroes the counters. Requests in flight are counted in full
// after the reset, when they finish.
func (p *Proxy) Reset() { p.rec.reset() }

// recorder keeps the counters. Everything a client can observe is
// counted before the client sees the answer complete: requests on arrival,
// bytes as they pass, errors with the status line. So a client that reads
// Stats right after its last response sees that response counted. Only
// the latency is recorded after the fact.
type recorder struct {
	mu        sync.Mutex
	s         Stats // ByMethod and the request counters; guarded by mu
	latencies []time.Duration

	reqBytes, respBytes atomic.Int64
}

func newRecorder() *recorder { return &recorder{s: Stats{ByMethod: map[string]int64{}}} }

func (r *recorder) begin(h *http.Request) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Requests++
	r.s.ByMethod[h.Method]++
	if h.Method == http.MethodGet && h.Header.Get("Range") != "" {
		r.s.RangeGETs++
	}
	if h.Method == http.MethodGet && isList(h) {
		r.s.Lists++
	}
}

// isList recognizes a path-style bucket GET (/bucket or /bucket/), which
// is a ListObjects call, as opposed to an object GET (/bucket/key).
func isList(h *http.Request) bool {
	path := strings.Trim(h.URL.Path, "/")
	return path != "" && !strings.Contains(path, "/")
}

func (r *recorder) failed() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s.Errors++
}

func (r *recorder) finish(d time.Duration) {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.latencies = append(r.latencies, d)
}

func (r *recorder) stats() Stats {
	r.mu.Lock()
	s := r.s
	s.ByMethod = make(map[string]int64, len(r.s.ByMethod))
	for k, v := range r.s.ByMethod {
		s.ByMethod[k] = v
	}
	lat := slices.Clone(r.latencies)
	r.mu.Unlock()
	s.RequestBytes, s.ResponseBytes = r.reqBytes.Load(), r.respBytes.Load()
	s.Latency = PercentilesOf(lat) // sorting outside the lock
	return s
}

func (r *recorder) reset() {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.s = Stats{ByMethod: map[string]int64{}}
	r.latencies = nil
	r.reqBytes.Store(0)
	r.respBytes.Store(0)
}

// countingBody adds the bytes read through it to n.
type countingBody struct {
	io.ReadCloser
	n *atomic.Int64
}

func (c *countingBody) Read(b []byte) (int, error) {
	n, err := c.ReadCloser.Read(b)
	c.n.Add(int64(n))
	return n, err
}
