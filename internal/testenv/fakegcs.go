package testenv

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/storage/gsstore"
)

const fakeGCSHint = "run `make test` (which installs it) or `go install github.com/fsouza/fake-gcs-server@v1.56.1`"

// GCSServer is a fake-gcs-server process: Google Cloud Storage's JSON and
// XML APIs over plain http, in memory.
type GCSServer struct {
	*proc
	endpoint string
}

// FakeGCS starts a fake-gcs-server for the test and stops it when the test
// ends. A missing binary fails the test with the command that installs it.
func FakeGCS(t testing.TB) *GCSServer {
	t.Helper()
	srv, err := StartFakeGCS()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// StartFakeGCS is FakeGCS for callers outside tests. Call Close to stop it.
func StartFakeGCS() (*GCSServer, error) {
	bin, err := findBinary("fake-gcs-server", fakeGCSHint)
	if err != nil {
		return nil, err
	}
	return startRetrying(func() (*GCSServer, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		host, port, _ := strings.Cut(addr, ":")
		cmd := exec.Command(bin, "-scheme", "http", "-host", host, "-port", port,
			"-backend", "memory", "-log-level", "error",
			"-public-host", addr, "-external-url", "http://"+addr)
		p, err := startProc("fake-gcs-server", cmd)
		if err != nil {
			return nil, err
		}
		srv := &GCSServer{proc: p, endpoint: "http://" + addr}
		err = p.waitReady(srv.endpoint+"/storage/v1/b", startTimeout, func(r *http.Response) error {
			if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
				return fmt.Errorf("another server answers there (%s)", r.Status)
			}
			return nil
		})
		if err != nil {
			p.Close()
			return nil, err
		}
		return srv, nil
	})
}

// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *GCSServer) Endpoint() string { return s.endpoint }

// URL is the replica URL of prefix in bucket on this server.
func (s *GCSServer) URL(bucket, prefix string) string {
	return fmt.Sprintf("gs://%s/%s?endpoint=%s", bucket, strings.Trim(prefix, "/"), s.endpoint)
}

// Env is what points a child process's Google client libraries (and
// strata's gs:// URLs without endpoint=) at the server.
func (s *GCSServer) Env() []string {
	return []string{gsstore.EmulatorEnv + "=" + strings.TrimPrefix(s.endpoint, "http://")}
}

// CreateBucket creates a new, empty bucket whose name starts with name and
// is unique in this process; it returns the name.
func (s *GCSServer) CreateBucket(t testing.TB, name string) string {
	t.Helper()
	bucket := uniqueBucket(name)
	body, _ := json.Marshal(map[string]string{"name": bucket})
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodPost, s.endpoint+"/storage/v1/b?project=strata-test", bytes.NewReader(body))
	req.Header.Set("Content-Type", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		t.Fatalf("create bucket %s: %v", bucket, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		msg, _ := io.ReadAll(resp.Body)
		t.Fatalf("create bucket %s: %s: %s", bucket, resp.Status, msg)
	}
	return bucket
}

// Store opens the replica at prefix in bucket.
func (s *GCSServer) Store(t testing.TB, bucket, prefix string) *gsstore.Store {
	t.Helper()
	u, err := url.Parse(s.URL(bucket, prefix))
	if err != nil {
		t.Fatal(err)
	}
	b, err := gsstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b.(*gsstore.Store)
}
