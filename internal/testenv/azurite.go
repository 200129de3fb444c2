package testenv

import (
	"context"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/storage/absstore"
)

// The account every Azurite serves, with its published key: not a secret.
const (
	AzuriteAccount = "devstoreaccount1"
	AzuriteKey     = "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw=="
)

// AzuriteEnv names the azurite-blob script to run (make test sets it to
// the copy it installs under .cache/azurite).
const AzuriteEnv = "STRATA_TEST_AZURITE"

const azuriteHint = "run `make test` (which installs it under .cache/azurite), " +
	"or `npm install --prefix .cache/azurite azurite@3.37.0`, or set " + AzuriteEnv + " to an azurite-blob script"

// azuriteStartTimeout is longer than other servers get: Node takes
// seconds to load Azurite, and much longer on a busy machine.
const azuriteStartTimeout = 90 * time.Second

// AzureServer is an Azurite process serving Azure Blob Storage over plain
// http, in memory.
type AzureServer struct {
	*proc
	endpoint string // the service URL: http://127.0.0.1:PORT/devstoreaccount1
	client   *azblob.Client
}

// Azurite starts an Azurite blob server for the test and stops it when
// the test ends. A missing Azurite or node fails the test with the way to
// install it.
func Azurite(t testing.TB) *AzureServer {
	t.Helper()
	srv, err := StartAzurite(t.TempDir())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(srv.Close)
	return srv
}

// StartAzurite is Azurite for callers outside tests, working in dir. Call
// Close to stop it.
func StartAzurite(dir string) (*AzureServer, error) {
	script, err := findAzurite()
	if err != nil {
		return nil, err
	}
	node, err := exec.LookPath("node")
	if err != nil {
		return nil, fmt.Errorf("node not found in PATH (Azurite runs on Node.js): apt-get install nodejs")
	}
	return startRetrying(func() (*AzureServer, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		host, port, _ := strings.Cut(addr, ":")
		cmd := exec.Command(node, script, "--blobHost", host, "--blobPort", port,
			"--inMemoryPersistence", "--extentMemoryLimit", "512", "--silent",
			"--skipApiVersionCheck", "--disableTelemetry")
		cmd.Dir = dir
		p, err := startProc("azurite", cmd)
		if err != nil {
			return nil, err
		}
		srv := &AzureServer{proc: p, endpoint: "http://" + addr + "/" + AzuriteAccount}
		err = p.waitReady(srv.endpoint+"?comp=list", azuriteStartTimeout, func(r *http.Response) error {
			if !strings.HasPrefix(r.Header.Get("Server"), "Azurite-Blob") {
				return fmt.Errorf("another server (%q) answers there", r.Header.Get("Server"))
			}
			return nil
		})
		if err == nil {
			srv.client, err = newAzureClient(srv.endpoint)
		}
		if err != nil {
			p.Close()
			return nil, err
		}
		return srv, nil
	})
}

func newAzureClient(endpoint string) (*azblob.Client, error) {
	cred, err := azblob.NewSharedKeyCredential(AzuriteAccount, AzuriteKey)
	if err != nil {
		return nil, err
	}
	return azblob.NewClientWithSharedKeyCredential(endpoint, cred, nil)
}

func findAzurite() (string, error) {
	if p := os.Getenv(AzuriteEnv); p != "" {
		if _, err := os.Stat(p); err != nil {
			return "", fmt.Errorf("%s=%s: %w", AzuriteEnv, p, err)
		}
		return p, nil
	}
	if root, err := fixture.ModuleRoot(); err == nil {
		p := filepath.Join(root, ".cache", "azurite", "node_modules", "azurite", "dist", "src", "blob", "main.js")
		if _, err := os.Stat(p); err == nil {
			return p, nil
		}
	}
	if p, err := exec.LookPath("azurite-blob"); err == nil {
		return p, nil
	}
	return "", fmt.Errorf("azurite not found: %s", azuriteHint)
}

// Endpoint is the service URL, e.g. http://127.0.0.1:41234/devstoreaccount1.
func (s *AzureServer) Endpoint() string { return s.endpoint }

// Client is a Blob client for the server's account.
func (s *AzureServer) Client() *azblob.Client { return s.client }

// URL is the replica URL of prefix in container on this server.
func (s *AzureServer) URL(container, prefix string) string {
	return fmt.Sprintf("abs://%s@%s/%s?endpoint=%s", AzuriteAccount, container, strings.Trim(prefix, "/"), s.endpoint)
}

// Env holds the variables that let a child process log in to the server
// with URL's URLs; append it to os.Environ().
func (s *AzureServer) Env() []string {
	return []string{absstore.KeyEnv + "=" + AzuriteKey}
}

// CreateContainer creates a new, empty container whose name starts with
// name and is unique in this process; it returns the name.
func (s *AzureServer) CreateContainer(t testing.TB, name string) string {
	t.Helper()
	container := uniqueBucket(name)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	if _, err := s.client.CreateContainer(ctx, container, nil); err != nil {
		t.Fatalf("create container %s on %s: %v", container, s.endpoint, err)
	}
	return container
}

// Store opens the replica at prefix in container with the account's key,
// without touching the environment; it is closed when the test ends.
func (s *AzureServer) Store(t testing.TB, container, prefix string) *absstore.Store {
	t.Helper()
	u, err := url.Parse(s.URL(container, prefix))
	if err != nil {
		t.Fatal(err)
	}
	st, err := absstore.OpenWithKey(context.Background(), u, AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { st.Close() })
	return st
}
