// Package testenv starts the real services integration tests run against,
// so that every test exercises the same code paths production does.
package testenv

import (
	"bytes"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/aws/aws-sdk-go-v2/service/s3"
)

// Credentials of the root account of every test server. They are not
// secrets: the servers listen on 127.0.0.1 only and live for one test.
const (
	AccessKey = "strata-test-access"
	SecretKey = "strata-test-secret-0123456789"
	Region    = "us-east-1"
)

const installHint = "run `make test` (which installs it) or " +
	"`go install github.com/versity/versitygw/cmd/versitygw@v1.8.0`"

// startTimeout bounds how long a server may take to answer its first request.
const startTimeout = 20 * time.Second

// S3Server is a versitygw process serving a posix directory over S3.
type S3Server struct {
	endpoint string
	cmd      *exec.Cmd
	exited   chan struct{} // closed when the process has been reaped
	output   *lockedBuffer
	client   *s3.Client
	once     sync.Once
}

// VersityGW starts a versitygw server for the test on a temporary
// directory and stops it when the test ends, even if the test panics. A
// missing versitygw binary fails the test: integration tests are never
// silently skipped.
func VersityGW(t testing.TB) *S3Server {
	t.Helper()
	srv, err := StartVersityGW(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// StartVersityGW starts a versitygw server storing buckets under dir, for
// callers outside tests (benchmarks). Call Close to stop it.
func StartVersityGW(dir string) (*S3Server, error) {
	bin, err := findVersityGW()
	if err != nil {
		return nil, err
	}
	// The free port can be taken between probing and binding; a few tries
	// make that race harmless.
	for attempt := 0; ; attempt++ {
		srv, err := start(bin, dir)
		if err == nil || attempt == 2 {
			return srv, err
		}
	}
}

func findVersityGW() (string, error) {
	if p, err := exec.LookPath("versitygw"); err == nil {
		return p, nil
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, "versitygw")
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("versitygw not found in PATH or $(go env GOPATH)/bin: %s", installHint)
}

// goBinDirs are where `go install` puts binaries.
func goBinDirs() []string {
	var dirs []string
	if gobin := goEnv("GOBIN"); gobin != "" {
		dirs = append(dirs, gobin)
	}
	for _, p := range filepath.SplitList(goEnv("GOPATH")) {
		dirs = append(dirs, filepath.Join(p, "bin"))
	}
	if home, err := os.UserHomeDir(); err == nil {
		dirs = append(dirs, filepath.Join(home, "go", "bin"))
	}
	return dirs
}

func goEnv(name string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	out, err := exec.Command("go", "env", name).Output()
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(out))
}

func start(bin, dir string) (*S3Server, error) {
	addr, err := freeAddr()
	if err != nil {
		return nil, err
	}
	out := &lockedBuffer{}
	cmd := exec.Command(bin, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--port", addr, "--quiet",
		// Without --keep-alive versitygw closes every connection after
		// one request, which hides connection-pool behaviour.
		"--keep-alive", "posix", dir)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	srv := &S3Server{endpoint: "http://" + addr, cmd: cmd, exited: make(chan struct{}), output: out}
	go func() {
		_ = cmd.Wait()
		close(srv.exited)
	}()
	if err := srv.waitReady(); err != nil {
		srv.Close()
		return nil, err
	}
	srv.client = newClient(srv.endpoint)
	return srv, nil
}

// ClosedAddr is a local address nobody listens on (for tests of an
// unreachable endpoint).
func ClosedAddr(t testing.TB) string {
	t.Helper()
	addr, err := freeAddr()
	if err != nil {
		t.Fatal(err)
	}
	return addr
}

func freeAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("find a free port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// waitReady polls until the server answers. The Server header check makes
// sure it is our process, not another one that took the port first.
func (s *S3Server) waitReady() error {
	deadline := time.Now().Add(startTimeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-s.exited:
			return fmt.Errorf("versitygw exited before answering on %s:\n%s", s.endpoint, s.output)
		default:
		}
		resp, err := hc.Get(s.endpoint + "/")
		if err == nil {
			resp.Body.Close()
			if resp.Header.Get("Server") == "VERSITYGW" {
				return nil
			}
			err = fmt.Errorf("another server (%q) answers there", resp.Header.Get("Server"))
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("versitygw did not answer on %s within %v: %w\n%s", s.endpoint, startTimeout, err, s.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops the server (its whole process group) and waits for it.
func (s *S3Server) Close() {
	s.once.Do(func() {
		killGroup(s.cmd.Process)
		// SIGKILL cannot be ignored; the bound only guards against a
		// process stuck in the kernel.
		select {
		case <-s.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *S3Server) Endpoint() string { return s.endpoint }

// Output is what the server printed so far, for diagnosing failures.
func (s *S3Server) Output() string { return s.output.String() }

// lockedBuffer collects a child's output, keeping only the tail.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxOutput = 64 << 10

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > maxOutput {
		b.buf.Next(b.buf.Len() - maxOutput)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
