package testenv

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

const nginxHint = "run `make test` (which installs it) or `apt-get install nginx-light`"

// WebServer is a static web server serving a directory: what a replica
// published with `strata publish` is read from.
type WebServer struct {
	// URL is the base URL of the directory, e.g. http://127.0.0.1:41234.
	URL string
	// Name says which server it is ("nginx", "net/http FileServer").
	Name  string
	close func()
}

// Close stops the server.
func (s *WebServer) Close() { s.close() }

// FileServer serves root with Go's http.FileServer in this process (Range
// requests, Last-Modified and If-Modified-Since; no ETags), until the test
// ends. wrap, if not nil, wraps the handler (to count or alter requests).
func FileServer(t testing.TB, root string, wrap func(http.Handler) http.Handler) *WebServer {
	t.Helper()
	var h http.Handler = http.FileServer(http.Dir(root))
	if wrap != nil {
		h = wrap(h)
	}
	srv := httptest.NewServer(h)
	ws := &WebServer{URL: srv.URL, Name: "net/http FileServer", close: srv.Close}
	t.Cleanup(ws.Close)
	return ws
}

// Nginx serves root with a real nginx (Debian's nginx-light) on 127.0.0.1
// until the test ends: Range requests, ETags (If-None-Match) and
// Last-Modified, as static hosting does. A missing nginx fails the test
// with the way to install it.
func Nginx(t testing.TB, root string) *WebServer {
	t.Helper()
	ws, err := StartNginx(t.TempDir(), root)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(ws.Close)
	return ws
}

// StartNginx is Nginx for callers outside tests: its configuration, logs
// and temporary files go to dir. Call Close to stop it.
func StartNginx(dir, root string) (*WebServer, error) {
	bin, err := findBinary("nginx", nginxHint)
	if err != nil {
		if _, serr := os.Stat("/usr/sbin/nginx"); serr != nil {
			return nil, err
		}
		bin = "/usr/sbin/nginx"
	}
	root, err = filepath.Abs(root)
	if err != nil {
		return nil, err
	}
	return startRetrying(func() (*WebServer, error) {
		addr, err := freeAddr()
		if err != nil {
			return nil, err
		}
		conf := filepath.Join(dir, "nginx.conf")
		if err := os.WriteFile(conf, []byte(nginxConf(dir, root, addr)), 0o644); err != nil {
			return nil, err
		}
		// -e: the error log before the configuration is read (the default
		// is under /var/log, not ours to write).
		cmd := exec.Command(bin, "-p", dir, "-c", conf, "-e", filepath.Join(dir, "error.log"))
		p, err := startProc("nginx", cmd)
		if err != nil {
			return nil, err
		}
		url := "http://" + addr
		err = p.waitReady(url+"/", startTimeout, func(r *http.Response) error {
			if !strings.HasPrefix(r.Header.Get("Server"), "nginx") {
				return fmt.Errorf("another server (%q) answers there", r.Header.Get("Server"))
			}
			return nil
		})
		if err != nil {
			log, _ := os.ReadFile(filepath.Join(dir, "error.log"))
			p.Close()
			return nil, fmt.Errorf("%w\n%s", err, log)
		}
		return &WebServer{URL: url, Name: "nginx", close: p.Close}, nil
	})
}

// nginxConf runs one nginx process in the foreground (no master, no
// daemon: killing it stops everything), with every path under dir.
func nginxConf(dir, root, addr string) string {
	return fmt.Sprintf(`daemon off;
master_process off;
worker_processes 1;
pid %[1]s/nginx.pid;
error_log %[1]s/error.log warn;
events { worker_connections 256; }
http {
	access_log off;
	default_type application/octet-stream;
	client_body_temp_path %[1]s/client_body;
	proxy_temp_path %[1]s/proxy;
	fastcgi_temp_path %[1]s/fastcgi;
	uwsgi_temp_path %[1]s/uwsgi;
	scgi_temp_path %[1]s/scgi;
	server {
		listen %[3]s;
		root %[2]s;
		location / { }
	}
}
`, dir, root, addr)
}
