package testenv

import (
	"context"
	"io"
	"net/http"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestVersityGW(t *testing.T) {
	srv := VersityGW(t)
	a, b := srv.CreateBucket(t, "Test/Some_Name"), srv.CreateBucket(t, "Test/Some_Name")
	valid := regexp.MustCompile(`^[a-z0-9][a-z0-9-]{1,61}[a-z0-9]$`)
	if a == b || !valid.MatchString(a) || !valid.MatchString(b) {
		t.Errorf("bucket names %q, %q: want distinct valid names", a, b)
	}
	st := srv.Store(t, a, "db")
	if files, err := st.List(context.Background(), 0, 0); err != nil || len(files) != 0 {
		t.Errorf("List of a new bucket = %v, %v", files, err)
	}
	if want := "s3://" + a + "/db?endpoint=" + srv.Endpoint(); !strings.HasPrefix(srv.URL(a, "db"), want) {
		t.Errorf("URL = %s, want prefix %s", srv.URL(a, "db"), want)
	}
	srv.Close()
	srv.Close() // idempotent, as Cleanup calls it again
	select {
	case <-srv.exited:
	default:
		t.Error("server still running after Close")
	}
}

// Every emulator answers when started and is gone after Close (called
// twice, as Cleanup does again).
func TestEmulatorsStopOnClose(t *testing.T) {
	for name, start := range map[string]func(t *testing.T) *proc{
		"fake-gcs-server": func(t *testing.T) *proc { return FakeGCS(t).proc },
		"azurite":         func(t *testing.T) *proc { return Azurite(t).proc },
	} {
		t.Run(name, func(t *testing.T) {
			p := start(t)
			p.Close()
			p.Close()
			select {
			case <-p.exited:
			default:
				t.Errorf("%s still running after Close", name)
			}
		})
	}
	t.Run("nginx", func(t *testing.T) {
		root := t.TempDir()
		if err := os.WriteFile(filepath.Join(root, "f"), []byte("0123456789"), 0o644); err != nil {
			t.Fatal(err)
		}
		ws := Nginx(t, root)
		req, _ := http.NewRequest(http.MethodGet, ws.URL+"/f", nil)
		req.Header.Set("Range", "bytes=2-4")
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			t.Fatal(err)
		}
		body, _ := io.ReadAll(resp.Body)
		resp.Body.Close()
		if resp.StatusCode != http.StatusPartialContent || string(body) != "234" || resp.Header.Get("ETag") == "" {
			t.Errorf("nginx answered %s %q (ETag %q); want 206 \"234\" with an ETag", resp.Status, body, resp.Header.Get("ETag"))
		}
		ws.Close()
		if _, err := http.Get(ws.URL + "/f"); err == nil {
			t.Error("nginx still answers after Close")
		}
	})
}
