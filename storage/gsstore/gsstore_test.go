package gsstore_test

import (
	"context"
	"errors"
	"net/http"
	"net/url"
	"strings"
	"testing"
	"time"

	gcs "cloud.google.com/go/storage"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/gsstore"
	"github.com/strata-db/strata/storage/storagetest"
	"github.com/superfly/ltx"
)

func TestContract(t *testing.T) {
	srv := testenv.FakeGCS(t)
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) (storage.Backend, storage.Backend) {
			st := srv.Store(t, srv.CreateBucket(t, t.Name()), "db")
			return st, st
		},
		Open: func(t *testing.T) storage.Backend {
			u, _ := url.Parse(srv.URL("any-bucket", "db"))
			b, err := gsstore.Open(context.Background(), u)
			if err != nil {
				t.Fatal(err)
			}
			return b
		},
	})
}

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

// Objects are where Litestream's GCS client puts them, with its
// litestream-timestamp metadata; objects that are not LTX files, or not in
// a level folder, are not listed.
func TestLitestreamLayout(t *testing.T) {
	ctx := context.Background()
	srv := testenv.FakeGCS(t)
	bucket := srv.CreateBucket(t, "layout")
	st := srv.Store(t, bucket, "mydb")
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123_000_000, time.UTC)
	for _, f := range []storage.FileInfo{fi(0, 0x2a, 0x2a), fi(9, 1, 0x2a)} {
		if err := st.Write(ctx, f, ts, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.WriteMeta(ctx, "strata-head.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	raw := rawClient(t, srv)
	for _, name := range []string{"mydb/ltx/0/notes.txt", "mydb/ltx/00/0000000000000003-0000000000000003.ltx", "mydb/0000/0000000000000004-0000000000000004.ltx"} {
		w := raw.Bucket(bucket).Object(name).NewWriter(ctx)
		w.Write([]byte("junk"))
		if err := w.Close(); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	it := raw.Bucket(bucket).Objects(ctx, &gcs.Query{Prefix: "mydb/"})
	for {
		attrs, err := it.Next()
		if err != nil {
			break
		}
		keys = append(keys, attrs.Name)
		if strings.HasSuffix(attrs.Name, "000000000000002a-000000000000002a.ltx") && attrs.Metadata[gsstore.TimestampKey] != "2026-11-24T10:00:00.123Z" {
			t.Errorf("%s metadata = %v", attrs.Name, attrs.Metadata)
		}
	}
	for _, want := range []string{"mydb/ltx/0/000000000000002a-000000000000002a.ltx", "mydb/ltx/9/0000000000000001-000000000000002a.ltx", "mydb/strata-head.json"} {
		if !strings.Contains(strings.Join(keys, " "), want) {
			t.Errorf("objects %v lack %s", keys, want)
		}
	}
	all, err := st.ListAll(ctx)
	if err != nil || len(all) != 2 {
		t.Errorf("ListAll = %v, %v; want the two LTX files only", all, err)
	}
}

func rawClient(t *testing.T, srv *testenv.GCSServer) *gcs.Client {
	t.Helper()
	t.Setenv(gsstore.EmulatorEnv, strings.TrimPrefix(srv.Endpoint(), "http://"))
	c, err := gcs.NewClient(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// A bucket that does not exist is "no replica", permanent, named.
func TestMissingBucket(t *testing.T) {
	srv := testenv.FakeGCS(t)
	st := srv.Store(t, "no-such-bucket", "db")
	_, err := st.List(context.Background(), 0, 0)
	if !errors.Is(err, storage.ErrNoReplica) || storage.IsTransient(err) || !strings.Contains(err.Error(), "no-such-bucket") {
		t.Fatalf("List of a missing bucket: %v; want ErrNoReplica naming the bucket", err)
	}
}

func TestParseURL(t *testing.T) {
	t.Setenv(gsstore.EmulatorEnv, "")
	for raw, want := range map[string]string{
		"gs://bkt":                            "gs://bkt",
		"gs://bkt/a//b/":                      "gs://bkt/a/b",
		"gs://bkt/db?timeout=5s":              "gs://bkt/db",
		"gs://bkt/db?endpoint=127.0.0.1:4443": "gs://bkt/db?endpoint=http%3A%2F%2F127.0.0.1%3A4443",
	} {
		u, _ := url.Parse(raw)
		got, err := gsstore.CanonicalURL(u)
		if err != nil || got != want {
			t.Errorf("CanonicalURL(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		"gs:///db":                          "no bucket",
		"gs://user:secret@bkt/db":           "credentials do not belong",
		"gs://bkt/db?region=x":              `unknown query parameter "region"`,
		"gs://bkt/db?endpoint=http://x/%zz": "invalid URL escape",
		"gs://bkt/db?timeout=soon":          "not a positive duration",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = gsstore.CanonicalURL(u)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("CanonicalURL(%s): %v, want an error containing %q, without secrets", raw, err, want)
		}
	}
}

// STORAGE_EMULATOR_HOST sends a URL without endpoint= to the emulator,
// without credentials, as Google's own libraries do.
func TestEmulatorHostFromEnvironment(t *testing.T) {
	srv := testenv.FakeGCS(t)
	bucket := srv.CreateBucket(t, "env")
	t.Setenv(gsstore.EmulatorEnv, strings.TrimPrefix(srv.Endpoint(), "http://"))
	u, _ := url.Parse("gs://" + bucket + "/db")
	b, err := gsstore.Open(context.Background(), u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if err := b.Write(context.Background(), fi(0, 1, 1), time.Now(), strings.NewReader("hello")); err != nil {
		t.Fatal(err)
	}
	if files, err := srv.Store(t, bucket, "db").List(context.Background(), 0, 0); err != nil || len(files) != 1 {
		t.Errorf("the file written through STORAGE_EMULATOR_HOST: %v, %v", files, err)
	}
	if b.String() != "gs://"+bucket+"/db" {
		t.Errorf("String() = %q", b.String())
	}
}

// Without credentials, opening says what to set, in one line.
func TestNoCredentials(t *testing.T) {
	t.Setenv(gsstore.EmulatorEnv, "")
	t.Setenv("GOOGLE_APPLICATION_CREDENTIALS", t.TempDir()+"/missing.json")
	u, _ := url.Parse("gs://bkt/db")
	_, err := gsstore.Open(context.Background(), u)
	if !errors.Is(err, storage.ErrAuth) || !strings.Contains(err.Error(), "GOOGLE_APPLICATION_CREDENTIALS") || strings.Contains(err.Error(), "\n") {
		t.Fatalf("Open without credentials: %v; want one line matching ErrAuth that names GOOGLE_APPLICATION_CREDENTIALS", err)
	}
}

// A metadata read with a token asks GCS for the object only if its ETag
// changed (If-None-Match, answered 304 by GCS). fake-gcs-server ignores the
// condition and sends the object again; the store still reports
// ErrNotModified by comparing ETags.
func TestReadMetaIsConditional(t *testing.T) {
	ctx := context.Background()
	srv := testenv.FakeGCS(t)
	bucket := srv.CreateBucket(t, "meta")
	px := testenv.NewFaultProxy(t, srv.Endpoint())
	px.RewriteHost = true
	var conditions []string
	px.OnRequest = func(r *http.Request) {
		if c := r.Header.Get("If-None-Match"); c != "" {
			conditions = append(conditions, c)
		}
	}
	u, _ := url.Parse("gs://" + bucket + "/db?endpoint=" + px.URL)
	b, err := gsstore.Open(ctx, u)
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	st := b.(*gsstore.Store)
	if err := st.WriteMeta(ctx, "strata-head.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_, tag, err := st.ReadMeta(ctx, "strata-head.json", "")
	if err != nil {
		t.Fatal(err)
	}
	if _, _, err := st.ReadMeta(ctx, "strata-head.json", tag); !errors.Is(err, storage.ErrNotModified) {
		t.Fatalf("ReadMeta with the current generation: %v, want ErrNotModified", err)
	}
	if len(conditions) != 1 || conditions[0] != tag {
		t.Errorf("conditions sent: %v, want one with the ETag %s", conditions, tag)
	}
}
