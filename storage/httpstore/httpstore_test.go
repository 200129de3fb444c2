package httpstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/storage/httpstore"
	"github.com/strata-db/strata/storage/storagetest"
	"github.com/superfly/ltx"
)

// served makes a directory replica under root/name, served at base/name:
// the store reading it over HTTP, and a writer that publishes (rewrites
// the manifest) after every change.
func served(t *testing.T, root, base, name string) (storage.Backend, storage.Backend) {
	t.Helper()
	dir := filepath.Join(root, name)
	if err := os.MkdirAll(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	fs, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	w := storagetest.Published(t, fs)
	if _, err := storage.WriteManifest(context.Background(), w); err != nil { // an empty replica
		t.Fatal(err)
	}
	return open(t, base+"/"+name), w
}

func open(t *testing.T, raw string) storage.Backend {
	t.Helper()
	u, err := url.Parse(raw)
	if err != nil {
		t.Fatal(err)
	}
	b, err := httpstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { b.Close() })
	return b
}

func harness(root, base string) storagetest.Harness {
	return storagetest.Harness{
		New: func(t *testing.T) (storage.Backend, storage.Backend) {
			return served(t, root, base, strings.ReplaceAll(t.Name(), "/", "-"))
		},
		Open: func(t *testing.T) storage.Backend {
			u, _ := url.Parse(base + "/any")
			b, err := httpstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
		ReadOnly: true,
		Settle:   1100 * time.Millisecond,
	}
}

// Go's own file server: Range, Last-Modified and If-Modified-Since; no ETags.
func TestContractGoFileServer(t *testing.T) {
	root := t.TempDir()
	srv := testenv.FileServer(t, root, nil)
	storagetest.Run(t, harness(root, srv.URL))
}

// A real static server: nginx, with ETags and If-None-Match.
func TestContractNginx(t *testing.T) {
	root := t.TempDir()
	srv := testenv.Nginx(t, root)
	storagetest.Run(t, harness(root, srv.URL))
}

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

// statusCounter counts the answers of a handler by status.
type statusCounter struct {
	mu     sync.Mutex
	counts map[int]int
}

func (c *statusCounter) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		rec := &statusRecorder{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(rec, r)
		c.mu.Lock()
		defer c.mu.Unlock()
		if c.counts == nil {
			c.counts = map[int]int{}
		}
		c.counts[rec.status]++
	})
}

func (c *statusCounter) get(status int) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.counts[status]
}

type statusRecorder struct {
	http.ResponseWriter
	status int
}

func (r *statusRecorder) WriteHeader(status int) {
	r.status = status
	r.ResponseWriter.WriteHeader(status)
}

// Following an unchanged replica costs one conditional GET of the manifest
// per listing, answered 304 without a body; a changed manifest is read
// again. With Go's file server the validator is Last-Modified, which is
// trusted only once the manifest is a second older than the server's
// clock.
func TestListingPollsTheManifestConditionally(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	var counter statusCounter
	srv := testenv.FileServer(t, root, counter.wrap)
	b, w := served(t, root, srv.URL, "db")
	put(t, w, fi(0, 1, 1), "one")
	age(t, filepath.Join(root, "db", storage.ManifestName))

	var count storage.Counter
	b = storage.Observe(b, count.Observe)
	for range 5 {
		if files, err := b.List(ctx, 0, 0); err != nil || len(files) != 1 {
			t.Fatalf("List = %v, %v", files, err)
		}
	}
	if got := counter.get(http.StatusNotModified); got != 4 {
		t.Errorf("%d answers 304 to 5 listings, want 4 (first read whole)", got)
	}
	put(t, w, fi(0, 2, 2), "two")
	if files, err := b.List(ctx, 0, 0); err != nil || len(files) != 2 {
		t.Fatalf("List after a new file = %v, %v; want 2 files", files, err)
	}
	if count.Lists.Load() != 6 {
		t.Errorf("counter saw %d listings, want 6", count.Lists.Load())
	}
}

// age sets a file's modification time a minute back, as if it had been
// published a while ago.
func age(t *testing.T, path string) {
	t.Helper()
	old := time.Now().Add(-time.Minute)
	if err := os.Chtimes(path, old, old); err != nil {
		t.Fatal(err)
	}
}

func put(t *testing.T, w storage.Backend, f storage.FileInfo, data string) {
	t.Helper()
	if err := w.Write(context.Background(), f, time.Now(), strings.NewReader(data)); err != nil {
		t.Fatal(err)
	}
}

// nginx's ETag serves as the token, and a metadata read with it is
// answered 304.
func TestNginxAnswersConditionalReads(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv := testenv.Nginx(t, root)
	b, w := served(t, root, srv.URL, "db")
	age(t, filepath.Join(root, "db", storage.ManifestName))
	_, tag, err := b.(storage.MetaStore).ReadMeta(ctx, storage.ManifestName, "")
	if err != nil || !strings.HasPrefix(tag, `"`) {
		t.Fatalf("ReadMeta = %q, %v; want nginx's ETag as the token", tag, err)
	}
	if _, _, err := b.(storage.MetaStore).ReadMeta(ctx, storage.ManifestName, tag); !errors.Is(err, storage.ErrNotModified) {
		t.Fatalf("ReadMeta with the ETag: %v, want ErrNotModified", err)
	}
	put(t, w, fi(0, 1, 1), "one")
	if data, _, err := b.(storage.MetaStore).ReadMeta(ctx, storage.ManifestName, tag); err != nil || !strings.Contains(string(data), `"min_txid": "0000000000000001"`) {
		t.Fatalf("ReadMeta after publishing = %s, %v; want the new manifest", data, err)
	}
}

// A URL without a manifest is not a replica: the error says how to make
// one.
func TestNoManifest(t *testing.T) {
	srv := testenv.FileServer(t, t.TempDir(), nil)
	b := open(t, srv.URL+"/nothing-here")
	_, err := b.List(context.Background(), 0, 0)
	if !errors.Is(err, storage.ErrNoReplica) || !strings.Contains(err.Error(), "strata publish") {
		t.Fatalf("List without a manifest: %v; want ErrNoReplica mentioning strata publish", err)
	}
}

// A manifest written into an S3-layout replica says so, and the files are
// read where that layout puts them: a bucket served over HTTP as it is.
func TestS3LayoutManifest(t *testing.T) {
	ctx := context.Background()
	root := t.TempDir()
	srv := testenv.FileServer(t, root, nil)
	m := storage.NewManifest(storage.LayoutS3, []storage.FileInfo{{Level: 0, MinTXID: 1, MaxTXID: 1, Size: 5}})
	writeJSON(t, filepath.Join(root, "bkt", "db", storage.ManifestName), m)
	if err := os.MkdirAll(filepath.Join(root, "bkt", "db", "0000"), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(root, "bkt", "db", "0000", fi(0, 1, 1).Name()), []byte("hello"), 0o644); err != nil {
		t.Fatal(err)
	}
	b := open(t, srv.URL+"/bkt/db")
	if files, err := b.List(ctx, 0, 0); err != nil || len(files) != 1 {
		t.Fatalf("List = %v, %v", files, err)
	}
	data, err := storage.ReadAt(ctx, b, storage.DefaultRetry, fi(0, 1, 1), 1, 3)
	if err != nil || string(data) != "ell" {
		t.Errorf("ReadAt = %q, %v; want %q", data, err, "ell")
	}
}

func TestCanonicalURL(t *testing.T) {
	for raw, want := range map[string]string{
		"https://Example.com/a//b/":           "https://example.com/a/b",
		"https://example.com:443/db":          "https://example.com/db",
		"http://example.com:80/db?timeout=3s": "http://example.com/db",
		"http://127.0.0.1:8080/":              "http://127.0.0.1:8080",
	} {
		u, _ := url.Parse(raw)
		if got, err := httpstore.CanonicalURL(u); err != nil || got != want {
			t.Errorf("CanonicalURL(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		"https://user:secret@example.com/db": "credentials in the URL are not supported",
		"https://example.com/db?token=x":     `unknown query parameter "token"`,
		"https://example.com/db?timeout=%zz": "invalid URL escape",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = httpstore.CanonicalURL(u)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("CanonicalURL(%s): %v, want an error containing %q, without secrets", raw, err, want)
		}
	}
}
