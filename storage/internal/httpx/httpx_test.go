package httpx

import (
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/storage"
)

func client(t *testing.T, timeout time.Duration) *http.Client {
	t.Helper()
	c, err := New(Options{Timeout: timeout})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(c.Close)
	return c.HTTP
}

func get(t *testing.T, c *http.Client, url, rng string) (string, error) {
	t.Helper()
	req, _ := http.NewRequest(http.MethodGet, url, nil)
	if rng != "" {
		req.Header.Set("Range", rng)
	}
	resp, err := c.Do(req)
	if err != nil {
		return "", err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	return string(b), err
}

// A server that answers a Range request with other bytes than asked is
// at fault: the request fails, transiently, as a server fault, and no
// byte reaches the caller.
func TestRangeChecks(t *testing.T) {
	const data = "0123456789"
	for _, tt := range []struct {
		name         string
		rng          string
		status       int
		contentRange string
		body         string
		fault        bool
	}{
		{"honoured", "bytes=2-4", 206, "bytes 2-4/10", "234", false},
		{"honoured to the end", "bytes=7-", 206, "bytes 7-9/10", "789", false},
		{"clipped at the end of the object", "bytes=8-20", 206, "bytes 8-9/10", "89", false},
		{"unknown total", "bytes=2-4", 206, "bytes 2-4/*", "234", false},
		{"200 for the whole object asked from 0", "bytes=0-", 200, "", data, false},
		{"200 for a range covering the whole object", "bytes=0-99", 200, "", data, false},
		{"200 to a range from the middle", "bytes=2-4", 200, "", data, true},
		{"200 to a part from 0", "bytes=0-4", 200, "", data, true},
		{"shifted start", "bytes=2-4", 206, "bytes 3-5/10", "345", true},
		{"short end", "bytes=2-4", 206, "bytes 2-3/10", "23", true},
		{"206 without Content-Range", "bytes=2-4", 206, "", "234", true},
		{"garbage Content-Range", "bytes=2-4", 206, "bytes two-four/10", "234", true},
	} {
		t.Run(tt.name, func(t *testing.T) {
			srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
				if tt.contentRange != "" {
					w.Header().Set("Content-Range", tt.contentRange)
				}
				w.Header().Set("Content-Length", fmt.Sprint(len(tt.body)))
				w.WriteHeader(tt.status)
				io.WriteString(w, tt.body)
			}))
			defer srv.Close()
			body, err := get(t, client(t, 5*time.Second), srv.URL, tt.rng)
			if !tt.fault {
				if err != nil || body != tt.body {
					t.Fatalf("got %q, %v; want %q", body, err, tt.body)
				}
				return
			}
			var re *RangeError
			if !errors.As(err, &re) || !errors.Is(err, storage.ErrServerFault) || !storage.IsTransient(err) || body != "" {
				t.Fatalf("got %q, %v; want a transient RangeError (server fault) and no bytes", body, err)
			}
		})
	}
}

// A server that never answers, or stops in the middle of a body, is cut
// after the timeout with a transient StallError; a caller that is slow to
// read is not a stalled server.
func TestStalls(t *testing.T) {
	release := make(chan struct{})
	defer close(release)
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		switch r.URL.Path {
		case "/silent":
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/half":
			w.Header().Set("Content-Length", "10")
			io.WriteString(w, "01234")
			w.(http.Flusher).Flush()
			select {
			case <-release:
			case <-r.Context().Done():
			}
		case "/upload":
			io.ReadAll(r.Body)
			io.WriteString(w, "ok")
		default:
			io.WriteString(w, "0123456789")
		}
	}))
	defer srv.Close()
	const timeout = 200 * time.Millisecond
	c := client(t, timeout)

	for path, phase := range map[string]string{"/silent": "waiting for the answer", "/half": "reading the body"} {
		start := time.Now()
		_, err := get(t, c, srv.URL+path, "")
		var se *StallError
		if !errors.As(err, &se) || se.Phase != phase || !storage.IsTransient(err) {
			t.Errorf("%s: %v; want a transient StallError while %s", path, err, phase)
		}
		if d := time.Since(start); d < timeout || d > 10*timeout {
			t.Errorf("%s: cut after %v, want about %v", path, d, timeout)
		}
		if !Handled(err) {
			t.Errorf("%s: Handled(%v) = false", path, err)
		}
	}

	resp, err := c.Get(srv.URL + "/whole")
	if err != nil {
		t.Fatal(err)
	}
	time.Sleep(3 * timeout) // a slow consumer
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil || string(b) != "0123456789" {
		t.Errorf("a body read after a pause: %q, %v", b, err)
	}

	// An upload that keeps flowing is not cut, however long it takes.
	pr, pw := io.Pipe()
	go func() {
		for range 5 {
			pw.Write([]byte(strings.Repeat("x", 100)))
			time.Sleep(timeout / 2)
		}
		pw.Close()
	}()
	resp, err = c.Post(srv.URL+"/upload", "application/octet-stream", pr)
	if err != nil {
		t.Fatalf("a slow but steady upload: %v", err)
	}
	resp.Body.Close()
}

// https to a plain-HTTP server fails at once, permanently, with the fix.
func TestSchemeMismatch(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {}))
	defer srv.Close()
	_, err := get(t, client(t, 5*time.Second), strings.Replace(srv.URL, "http://", "https://", 1), "")
	var se *SchemeError
	if !errors.As(err, &se) || storage.IsTransient(err) || !strings.Contains(err.Error(), "http://"+strings.TrimPrefix(srv.URL, "http://")) {
		t.Fatalf("https to an http server: %v; want a permanent SchemeError with the http:// URL to use", err)
	}
}

// Clients share one pool per TLS setting; the last Close closes its idle
// connections, so their goroutines end.
func TestPoolIsSharedAndReleased(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { io.WriteString(w, "ok") }))
	defer srv.Close()
	if Pools() != 0 {
		t.Fatalf("%d pools alive before the test", Pools())
	}
	before := runtime.NumGoroutine()
	var clients []*Client
	for range 5 {
		c, err := New(Options{Timeout: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		clients = append(clients, c)
		if _, err := get(t, c.HTTP, srv.URL, ""); err != nil {
			t.Fatal(err)
		}
	}
	if Pools() != 1 {
		t.Errorf("%d pools for 5 clients with the same settings, want 1", Pools())
	}
	insecure, _ := New(Options{Timeout: time.Second, SkipVerify: true})
	if Pools() != 2 {
		t.Errorf("%d pools with a second TLS setting, want 2", Pools())
	}
	insecure.Close()
	for _, c := range clients {
		c.Close()
		c.Close() // harmless
	}
	if Pools() != 0 {
		t.Errorf("%d pools after every client closed, want 0", Pools())
	}
	srv.CloseClientConnections()
	deadline := time.Now().Add(5 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after closing, %d before", n, before)
	}
}

// A request whose caller gives up fails with the caller's error, not a
// stall.
func TestCallerCancellationIsNotAStall(t *testing.T) {
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) { <-r.Context().Done() }))
	defer srv.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, srv.URL, nil)
	_, err := client(t, 5*time.Second).Do(req)
	if !errors.Is(err, context.DeadlineExceeded) || Handled(err) {
		t.Fatalf("a cancelled request: %v; want the caller's deadline", err)
	}
	var ne net.Error
	_ = errors.As(err, &ne)
}
