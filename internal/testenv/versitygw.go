// Package testenv starts the real services integration tests run against,
// so that every test exercises the same code paths production does.
package testenv

import (
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
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
	*proc
	endpoint string
	client   *s3.Client
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
	bin, err := findBinary("versitygw", installHint)
	if err != nil {
		return nil, err
	}
	return startRetrying(func() (*S3Server, error) { return start(bin, dir) })
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
	cmd := exec.Command(bin, "--access", AccessKey, "--secret", SecretKey,
		"--region", Region, "--port", addr, "--quiet",
		// Without --keep-alive versitygw closes every connection after
		// one request, which hides connection-pool behaviour.
		"--keep-alive", "posix", dir)
	p, err := startProc("versitygw", cmd)
	if err != nil {
		return nil, err
	}
	srv := &S3Server{proc: p, endpoint: "http://" + addr}
	// The Server header check makes sure it is our process, not another
	// one that took the port first.
	err = p.waitReady(srv.endpoint+"/", startTimeout, func(r *http.Response) error {
		if r.Header.Get("Server") != "VERSITYGW" {
			return fmt.Errorf("another server (%q) answers there", r.Header.Get("Server"))
		}
		return nil
	})
	if err != nil {
		p.Close()
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

// Endpoint is the server's base URL, e.g. http://127.0.0.1:41234.
func (s *S3Server) Endpoint() string { return s.endpoint }
