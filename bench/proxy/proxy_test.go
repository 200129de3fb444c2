package proxy

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"
)

// startPair starts an upstream running h and a proxy in front of it.
func startPair(t *testing.T, opts Options, h http.HandlerFunc) *Proxy {
	t.Helper()
	up := httptest.NewServer(h)
	t.Cleanup(up.Close)
	p, err := New(up.URL, opts)
	if err != nil {
		t.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	return p
}

func do(t *testing.T, method, url string, body []byte, hdr map[string]string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, url, bytes.NewReader(body))
	if err != nil {
		t.Fatal(err)
	}
	for k, v := range hdr {
		req.Header.Set(k, v)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatal(err)
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		t.Fatal(err)
	}
	return resp, b
}

func TestForwardsWithClientHost(t *testing.T) {
	var gotHost, gotPath string
	p := startPair(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
		gotHost, gotPath = r.Host, r.URL.RequestURI()
		io.WriteString(w, "hello")
	})
	resp, body := do(t, "GET", p.URL()+"/bucket/key?x=1", nil, nil)
	if resp.StatusCode != 200 || string(body) != "hello" {
		t.Fatalf("got %d %q", resp.StatusCode, body)
	}
	// SigV4 signs the Host header: it must reach the server unchanged.
	if want := strings.TrimPrefix(p.URL(), "http://"); gotHost != want {
		t.Errorf("upstream saw Host %q, want the proxy's %q", gotHost, want)
	}
	if gotPath != "/bucket/key?x=1" {
		t.Errorf("upstream saw %q", gotPath)
	}
}

func TestLatencyIsAddedBeforeForwarding(t *testing.T) {
	const lat = 60 * time.Millisecond
	var arrived time.Time
	p := startPair(t, Options{Latency: lat}, func(w http.ResponseWriter, r *http.Request) {
		arrived = time.Now()
	})
	start := time.Now()
	do(t, "GET", p.URL()+"/b/k", nil, nil)
	if d := arrived.Sub(start); d < lat {
		t.Errorf("request reached upstream after %v, want >= %v", d, lat)
	}
	// The latency is recorded just after the answer is sent.
	st := p.Stats()
	for deadline := time.Now().Add(time.Second); st.Latency.Max == 0 && time.Now().Before(deadline); {
		time.Sleep(time.Millisecond)
		st = p.Stats()
	}
	if st.Latency.P50 < lat || st.Latency.Max < lat {
		t.Errorf("recorded latency %+v, want >= %v", st.Latency, lat)
	}
}

func TestCountsRequestsAndBytes(t *testing.T) {
	p := startPair(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
		io.Copy(io.Discard, r.Body)
		if r.Method == "GET" && r.URL.Path == "/b/missing" {
			http.NotFound(w, r)
			return
		}
		if r.Method != "HEAD" {
			w.Write(make([]byte, 1000))
		}
	})
	do(t, "GET", p.URL()+"/b/k", nil, map[string]string{"Range": "bytes=0-99"})
	do(t, "GET", p.URL()+"/b/k", nil, nil)
	do(t, "GET", p.URL()+"/b?list-type=2", nil, nil)
	do(t, "PUT", p.URL()+"/b/k", make([]byte, 500), nil)
	do(t, "HEAD", p.URL()+"/b/k", nil, nil)
	do(t, "GET", p.URL()+"/b/missing", nil, nil)

	st := p.Stats()
	want := map[string]int64{"GET": 4, "PUT": 1, "HEAD": 1}
	for m, n := range want {
		if st.ByMethod[m] != n {
			t.Errorf("%s: %d requests, want %d (%v)", m, st.ByMethod[m], n, st.ByMethod)
		}
	}
	if st.Requests != 6 || st.RangeGETs != 1 || st.Lists != 1 || st.Errors != 1 {
		t.Errorf("requests %d, range GETs %d, lists %d, errors %d; want 6, 1, 1, 1",
			st.Requests, st.RangeGETs, st.Lists, st.Errors)
	}
	if st.RequestBytes != 500 {
		t.Errorf("request bytes %d, want 500", st.RequestBytes)
	}
	// 4 bodies of 1000 bytes plus the 404 page.
	if st.ResponseBytes < 4000 || st.ResponseBytes > 4100 {
		t.Errorf("response bytes %d, want about 4000", st.ResponseBytes)
	}

	p.Reset()
	if st := p.Stats(); st.Requests != 0 || st.ResponseBytes != 0 || st.RangeGETs != 0 {
		t.Errorf("after Reset: %+v", st)
	}
}

func TestBandwidthCap(t *testing.T) {
	const size, rate = 100 << 10, 1 << 20 // 100 KiB at 1 MiB/s: ~98 ms
	p := startPair(t, Options{Bandwidth: rate}, func(w http.ResponseWriter, r *http.Request) {
		w.Write(make([]byte, size))
	})
	start := time.Now()
	_, body := do(t, "GET", p.URL()+"/b/k", nil, nil)
	d := time.Since(start)
	if len(body) != size {
		t.Fatalf("got %d bytes", len(body))
	}
	if d < 90*time.Millisecond || d > 2*time.Second {
		t.Errorf("100 KiB at 1 MiB/s took %v, want about 98ms", d)
	}
}

func TestControlEndpoint(t *testing.T) {
	p := startPair(t, Options{}, func(w http.ResponseWriter, r *http.Request) {
		t.Errorf("control request was forwarded: %s", r.URL)
	})
	p.rec.begin(httptest.NewRequest("GET", "/b/k", nil))
	st, err := FetchStats(context.Background(), p.URL())
	if err != nil {
		t.Fatal(err)
	}
	if st.Requests != 1 || st.ByMethod["GET"] != 1 {
		t.Errorf("fetched %+v", st)
	}
	if resp, _ := do(t, "POST", p.URL()+ControlPath+"reset", nil, nil); resp.StatusCode != 200 {
		t.Fatalf("reset: %s", resp.Status)
	}
	if st := p.Stats(); st.Requests != 0 {
		t.Errorf("after reset: %d requests", st.Requests)
	}
}

func TestPercentiles(t *testing.T) {
	var d []time.Duration
	for i := 100; i >= 1; i-- {
		d = append(d, time.Duration(i)*time.Millisecond)
	}
	got := PercentilesOf(d)
	want := Percentiles{P50: 50 * time.Millisecond, P95: 95 * time.Millisecond, P99: 99 * time.Millisecond, Max: 100 * time.Millisecond}
	if got != want {
		t.Errorf("got %+v, want %+v", got, want)
	}
	if d[0] != 100*time.Millisecond {
		t.Error("PercentilesOf sorted its input")
	}
	if (PercentilesOf(nil) != Percentiles{}) {
		t.Error("empty input")
	}
}

func TestStatsSub(t *testing.T) {
	a := Stats{Requests: 3, RangeGETs: 1, ResponseBytes: 10, ByMethod: map[string]int64{"GET": 2, "HEAD": 1}}
	b := Stats{Requests: 7, RangeGETs: 4, ResponseBytes: 50, ByMethod: map[string]int64{"GET": 6, "HEAD": 1}}
	d := b.Sub(a)
	if d.Requests != 4 || d.RangeGETs != 3 || d.ResponseBytes != 40 || d.ByMethod["GET"] != 4 || len(d.ByMethod) != 1 {
		t.Errorf("got %+v", d)
	}
}

// BenchmarkOverhead measures what the proxy itself costs per request (no
// injected latency) for a 4 KiB range read, against the server directly.
func BenchmarkOverhead(b *testing.B) {
	page := make([]byte, 4096)
	up := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { w.Write(page) }))
	defer up.Close()
	p, err := New(up.URL, Options{})
	if err != nil {
		b.Fatal(err)
	}
	if err := p.Start("127.0.0.1:0"); err != nil {
		b.Fatal(err)
	}
	defer p.Close()
	for _, target := range []struct{ name, url string }{{"direct", up.URL}, {"proxied", p.URL()}} {
		b.Run(target.name, func(b *testing.B) {
			for b.Loop() {
				req, _ := http.NewRequest("GET", target.url+"/b/k", nil)
				req.Header.Set("Range", "bytes=0-4095")
				resp, err := http.DefaultClient.Do(req)
				if err != nil {
					b.Fatal(err)
				}
				io.Copy(io.Discard, resp.Body)
				resp.Body.Close()
			}
		})
	}
}
