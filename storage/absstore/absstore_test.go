package absstore_test

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/url"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/Azure/azure-sdk-for-go/sdk/storage/azblob"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/absstore"
	"github.com/strata-db/strata/storage/storagetest"
	"github.com/superfly/ltx"
)

// azurite is one Azurite for all the tests of the package: it takes
// seconds to start.
var azurite *testenv.AzureServer

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "azurite-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	azurite, err = testenv.StartAzurite(dir)
	if err != nil {
		fmt.Fprintln(os.Stderr, "absstore tests:", err)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	azurite.Close()
	os.RemoveAll(dir)
	os.Exit(code)
}

func TestContract(t *testing.T) {
	srv := azurite
	storagetest.Run(t, storagetest.Harness{
		New: func(t *testing.T) (storage.Backend, storage.Backend) {
			st := srv.Store(t, srv.CreateContainer(t, t.Name()), "db")
			return st, st
		},
		Open: func(t *testing.T) storage.Backend {
			u, _ := url.Parse(srv.URL("any-container", "db"))
			st, err := absstore.OpenWithKey(context.Background(), u, testenv.AzuriteKey)
			if err != nil {
				t.Fatal(err)
			}
			return st
		},
	})
}

func fi(level int, minTXID, maxTXID ltx.TXID) storage.FileInfo {
	return storage.FileInfo{Level: level, MinTXID: minTXID, MaxTXID: maxTXID}
}

// Blobs are where Litestream's ABS client puts them, with its
// litestreamtimestamp metadata; blobs that are not LTX files, or not in a
// level folder, are not listed.
func TestLitestreamLayout(t *testing.T) {
	ctx := context.Background()
	srv := azurite
	container := srv.CreateContainer(t, "layout")
	st := srv.Store(t, container, "mydb")
	ts := time.Date(2026, 11, 24, 10, 0, 0, 123_000_000, time.UTC)
	for _, f := range []storage.FileInfo{fi(0, 0x2a, 0x2a), fi(9, 1, 0x2a)} {
		if err := st.Write(ctx, f, ts, strings.NewReader("x")); err != nil {
			t.Fatal(err)
		}
	}
	if err := st.WriteMeta(ctx, "strata-head.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	for _, name := range []string{"mydb/ltx/0/notes.txt", "mydb/ltx/00/0000000000000003-0000000000000003.ltx", "mydb/0000/0000000000000004-0000000000000004.ltx"} {
		if _, err := srv.Client().UploadBuffer(ctx, container, name, []byte("junk"), nil); err != nil {
			t.Fatal(err)
		}
	}
	var keys []string
	pager := srv.Client().NewListBlobsFlatPager(container, &azblob.ListBlobsFlatOptions{Include: azblob.ListBlobsInclude{Metadata: true}})
	for pager.More() {
		page, err := pager.NextPage(ctx)
		if err != nil {
			t.Fatal(err)
		}
		for _, item := range page.Segment.BlobItems {
			keys = append(keys, *item.Name)
			if strings.HasSuffix(*item.Name, "000000000000002a-000000000000002a.ltx") {
				if v := item.Metadata[absstore.TimestampKey]; v == nil || *v != "2026-11-24T10:00:00.123Z" {
					t.Errorf("%s metadata = %v", *item.Name, item.Metadata)
				}
			}
		}
	}
	for _, want := range []string{"mydb/ltx/0/000000000000002a-000000000000002a.ltx", "mydb/ltx/9/0000000000000001-000000000000002a.ltx", "mydb/strata-head.json"} {
		if !strings.Contains(strings.Join(keys, " "), want) {
			t.Errorf("blobs %v lack %s", keys, want)
		}
	}
	all, err := st.ListAll(ctx)
	if err != nil || len(all) != 2 {
		t.Errorf("ListAll = %v, %v; want the two LTX files only", all, err)
	}
}

// A container that does not exist is "no replica", permanent, named.
func TestMissingContainer(t *testing.T) {
	srv := azurite
	st := srv.Store(t, "no-such-container", "db")
	_, err := st.List(context.Background(), 0, 0)
	if !errors.Is(err, storage.ErrNoReplica) || storage.IsTransient(err) || !strings.Contains(err.Error(), "no-such-container") {
		t.Fatalf("List of a missing container: %v; want ErrNoReplica naming the container", err)
	}
}

// A wrong key is an authentication error, at once, that names the variable
// to check and never the key.
func TestWrongKey(t *testing.T) {
	srv := azurite
	container := srv.CreateContainer(t, "creds")
	u, _ := url.Parse(srv.URL(container, "db"))
	const wrong = "d3Jvbmcta2V5LXdyb25nLWtleS13cm9uZy1rZXktd3Jvbmcta2V5LXdyb25nLWtleQ=="
	st, err := absstore.OpenWithKey(context.Background(), u, wrong)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	begin := time.Now()
	_, err = st.List(context.Background(), 0, 0)
	if !errors.Is(err, storage.ErrAuth) || storage.IsTransient(err) || !strings.Contains(err.Error(), absstore.KeyEnv) || strings.Contains(err.Error(), wrong) {
		t.Fatalf("List with a wrong key: %v; want ErrAuth naming %s, without the key", err, absstore.KeyEnv)
	}
	if d := time.Since(begin); d > 3*time.Second {
		t.Errorf("took %v to fail", d)
	}
}

// Credentials come from the environment: AZURE_STORAGE_KEY (or Litestream's
// LITESTREAM_AZURE_ACCOUNT_KEY), with the account from the URL or
// AZURE_STORAGE_ACCOUNT; or a connection string.
func TestCredentialsFromEnvironment(t *testing.T) {
	ctx := context.Background()
	srv := azurite
	container := srv.CreateContainer(t, "env")
	srv.Store(t, container, "db").Write(ctx, fi(0, 1, 1), time.Now(), strings.NewReader("x"))
	for _, tc := range []struct {
		name string
		env  map[string]string
		url  string
	}{
		{"AZURE_STORAGE_KEY", map[string]string{absstore.KeyEnv: testenv.AzuriteKey}, srv.URL(container, "db")},
		{"LITESTREAM_AZURE_ACCOUNT_KEY", map[string]string{absstore.LitestreamKeyEnv: testenv.AzuriteKey}, srv.URL(container, "db")},
		{"AZURE_STORAGE_ACCOUNT", map[string]string{absstore.KeyEnv: testenv.AzuriteKey, absstore.AccountEnv: testenv.AzuriteAccount},
			"abs://" + container + "/db?endpoint=" + srv.Endpoint()},
		{"AZURE_STORAGE_CONNECTION_STRING", map[string]string{absstore.ConnectionStringEnv: "DefaultEndpointsProtocol=http;AccountName=" +
			testenv.AzuriteAccount + ";AccountKey=" + testenv.AzuriteKey + ";BlobEndpoint=" + srv.Endpoint() + ";"},
			"abs://" + container + "/db"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			for _, v := range []string{absstore.KeyEnv, absstore.LitestreamKeyEnv, absstore.AccountEnv, absstore.ConnectionStringEnv, absstore.SASTokenEnv, absstore.LitestreamSASEnv} {
				t.Setenv(v, tc.env[v])
			}
			u, err := url.Parse(tc.url)
			if err != nil {
				t.Fatal(err)
			}
			b, err := absstore.Open(ctx, u)
			if err != nil {
				t.Fatal(err)
			}
			defer b.Close()
			if files, err := b.List(ctx, 0, 0); err != nil || len(files) != 1 {
				t.Errorf("List = %v, %v; want the one file", files, err)
			}
		})
	}
}

func TestParseURL(t *testing.T) {
	t.Setenv(absstore.AccountEnv, "")
	t.Setenv(absstore.ConnectionStringEnv, "")
	for raw, want := range map[string]string{
		"abs://acct@ctr":               "abs://acct@ctr",
		"abs://acct@ctr/a//b/":         "abs://acct@ctr/a/b",
		"abs://acct@ctr/db?timeout=5s": "abs://acct@ctr/db",
		"abs://acct@ctr/db?endpoint=http://127.0.0.1:10000/acct/": "abs://acct@ctr/db?endpoint=http%3A%2F%2F127.0.0.1%3A10000%2Facct",
	} {
		u, _ := url.Parse(raw)
		got, err := absstore.CanonicalURL(u)
		if err != nil || got != want {
			t.Errorf("CanonicalURL(%s) = %q, %v; want %q", raw, got, err, want)
		}
	}
	for raw, want := range map[string]string{
		"abs:///db":                               "no container",
		"abs://ctr/db":                            "no storage account",
		"abs://acct:secret@ctr/db":                "credentials do not belong",
		"abs://acct@ctr/db?region=x":              `unknown query parameter "region"`,
		"abs://acct@ctr/db?endpoint=http://x/%zz": "invalid URL escape",
	} {
		u, err := url.Parse(raw)
		if err != nil {
			t.Fatal(err)
		}
		_, err = absstore.CanonicalURL(u)
		if err == nil || !strings.Contains(err.Error(), want) || strings.Contains(err.Error(), "secret") {
			t.Errorf("CanonicalURL(%s): %v, want an error containing %q, without secrets", raw, err, want)
		}
	}
}

// A metadata read with a token is a conditional GET that Azure (and
// Azurite) answer 304 when nothing changed.
func TestReadMetaIsConditional(t *testing.T) {
	ctx := context.Background()
	srv := azurite
	container := srv.CreateContainer(t, "meta")
	px := testenv.NewFaultProxy(t, strings.TrimSuffix(srv.Endpoint(), "/"+testenv.AzuriteAccount))
	u, _ := url.Parse("abs://" + testenv.AzuriteAccount + "@" + container + "/db?endpoint=" + px.URL + "/" + testenv.AzuriteAccount)
	st, err := absstore.OpenWithKey(ctx, u, testenv.AzuriteKey)
	if err != nil {
		t.Fatal(err)
	}
	defer st.Close()
	if err := st.WriteMeta(ctx, "strata-head.json", []byte("{}")); err != nil {
		t.Fatal(err)
	}
	_, tag, err := st.ReadMeta(ctx, "strata-head.json", "")
	if err != nil {
		t.Fatal(err)
	}
	for range 3 {
		if _, _, err := st.ReadMeta(ctx, "strata-head.json", tag); !errors.Is(err, storage.ErrNotModified) {
			t.Fatalf("ReadMeta with the current ETag: %v, want ErrNotModified", err)
		}
	}
	if got := px.Statuses()[http.StatusNotModified]; got != 3 {
		t.Errorf("%d answers 304, want 3 (statuses %v)", got, px.Statuses())
	}
}
