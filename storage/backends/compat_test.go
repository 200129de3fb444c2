package backends_test

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"path/filepath"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/absstore"
	"github.com/strata-db/strata/storage/backends"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/storage/gsstore"
	"github.com/superfly/ltx"
)

// A replica copied byte for byte, by each service's own client, to the
// keys Litestream 0.5 uses there (S3: <prefix>/<level %04x>/...; GCS, Azure
// and a directory: <prefix>/ltx/<level>/...) is one replica to strata:
// opened by URL, every backend lists the same files and reads the same
// bytes; so does the directory published on a web server.
func TestReplicaCopiedBetweenBackends(t *testing.T) {
	ctx := context.Background()
	src := sourceReplica(t)
	files, err := src.ListAll(ctx)
	if err != nil || len(files) < 5 {
		t.Fatalf("source replica: %d files, %v", len(files), err)
	}
	content := map[storage.FileKey][]byte{}
	for _, f := range files {
		content[f.Key()], err = os.ReadFile(filepath.Join(src.Dir(), "ltx", fmt.Sprint(f.Level), f.Name()))
		if err != nil {
			t.Fatal(err)
		}
	}

	s3srv := testenv.VersityGW(t)
	s3srv.SetEnv(t)
	bucket := s3srv.CreateBucket(t, "compat")
	gcssrv := testenv.FakeGCS(t)
	gbucket := gcssrv.CreateBucket(t, "compat")
	azsrv := testenv.Azurite(t)
	container := azsrv.CreateContainer(t, "compat")
	t.Setenv(absstore.KeyEnv, testenv.AzuriteKey)
	dir := t.TempDir()

	gclient := gcsClient(t, gcssrv)
	for _, f := range files {
		data := content[f.Key()]
		s3key := fmt.Sprintf("shop/%04x/%s", f.Level, f.Name())
		if _, err := s3srv.Client().PutObject(ctx, &s3.PutObjectInput{Bucket: aws.String(bucket), Key: aws.String(s3key), Body: bytes.NewReader(data)}); err != nil {
			t.Fatal(err)
		}
		fileKey := fmt.Sprintf("shop/ltx/%d/%s", f.Level, f.Name())
		w := gclient.Bucket(gbucket).Object(fileKey).NewWriter(ctx)
		w.Write(data)
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
		if _, err := azsrv.Client().UploadBuffer(ctx, container, fileKey, data, nil); err != nil {
			t.Fatal(err)
		}
		path := filepath.Join(dir, filepath.FromSlash(fileKey))
		os.MkdirAll(filepath.Dir(path), 0o755)
		if err := os.WriteFile(path, data, 0o644); err != nil {
			t.Fatal(err)
		}
	}

	// The directory, published, is also a static replica on a web server.
	published, _ := filestore.New(filepath.Join(dir, "shop"))
	if _, err := storage.WriteManifest(ctx, published); err != nil {
		t.Fatal(err)
	}
	web := testenv.FileServer(t, dir, nil)

	for _, raw := range []string{
		s3srv.URL(bucket, "shop"),
		gcssrv.URL(gbucket, "shop"),
		azsrv.URL(container, "shop"),
		filepath.Join(dir, "shop"),
		web.URL + "/shop",
	} {
		b, err := backends.Open(ctx, raw)
		if err != nil {
			t.Fatalf("Open(%s): %v", raw, err)
		}
		defer b.Close()
		got, err := storage.ListFiles(ctx, b)
		if err != nil {
			t.Fatalf("%s: %v", b, err)
		}
		if summary(got) != summary(files) {
			t.Errorf("%s lists\n%s\nthe source lists\n%s", b, summary(got), summary(files))
			continue
		}
		for _, f := range got {
			whole, err := storage.ReadAt(ctx, b, storage.DefaultRetry, f, 0, f.Size)
			if err != nil || !bytes.Equal(whole, content[f.Key()]) {
				t.Errorf("%s: %s read differs (%v)", b, f, err)
			}
			tail, err := storage.ReadAt(ctx, b, storage.DefaultRetry, f, f.Size-ltx.TrailerSize, ltx.TrailerSize)
			if err != nil || !bytes.Equal(tail, content[f.Key()][f.Size-ltx.TrailerSize:]) {
				t.Errorf("%s: %s trailer read differs (%v)", b, f, err)
			}
		}
	}
}

// sourceReplica writes a small replica with real LTX files at levels 0, 1
// and 9 into a directory.
func sourceReplica(t *testing.T) *filestore.Store {
	t.Helper()
	st, err := filestore.New(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, st, filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table t (id integer primary key, v text)`)
	for i := range 6 {
		w.Exec(`insert into t (v) values (?)`, fmt.Sprintf("row %d %s", i, time.Now()))
	}
	w.Compact(1, 1, 4)
	w.Compact(9, 1, w.TXID())
	return st
}

func summary(files []storage.FileInfo) string {
	storage.SortFiles(files)
	var b bytes.Buffer
	for level := 0; level <= storage.MaxLevel; level++ {
		for _, f := range files {
			if f.Level == level {
				fmt.Fprintf(&b, "%s %d\n", f, f.Size)
			}
		}
	}
	return b.String()
}

func gcsClient(t *testing.T, srv *testenv.GCSServer) *gcs.Client {
	t.Helper()
	t.Setenv(gsstore.EmulatorEnv, srv.Endpoint()[len("http://"):])
	c, err := gcs.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}
