package main

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// `strata publish` lays a replica out for a web server; the served copy is
// a read-only replica that ls and query read over HTTP. Published again,
// the copy follows the source: new files come, compacted-away ones go.
func TestPublish(t *testing.T) {
	src, err := filestore.New(filepath.Join(t.TempDir(), "src"))
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, src, filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table t (id integer primary key, v text)`)
	for range 3 {
		w.Exec(`insert into t (v) values ('x')`)
	}
	root := t.TempDir()
	dir := filepath.Join(root, "site", "shop")
	strata(t, "publish", src.Dir(), dir).want(t, 0, "4 files (4 copied, 0 removed)", "latest TXID 0000000000000004")

	web := testenv.FileServer(t, filepath.Join(root, "site"), nil)
	url := web.URL + "/shop"
	r := strata(t, "ls", "-json", url)
	r.want(t, 0)
	var listing struct{ Files []map[string]any }
	if err := json.Unmarshal([]byte(r.stdout), &listing); err != nil || len(listing.Files) != 4 {
		t.Fatalf("ls -json %s: %v\n%s", url, err, r.stdout)
	}
	r = strata(t, "query", url, "select count(*) from t")
	r.want(t, 0)
	if strings.TrimSpace(r.stdout) != "3" {
		t.Errorf("query over HTTP = %q, want 3", r.stdout)
	}

	w.Exec(`insert into t (v) values ('y')`)
	w.Compact(1, 1, 5)
	w.Delete(0, 1, 3)
	strata(t, "publish", src.Dir(), dir).want(t, 0, "3 files (2 copied, 3 removed)", "latest TXID 0000000000000005")
	data, err := os.ReadFile(filepath.Join(dir, storage.ManifestName))
	if err != nil {
		t.Fatal(err)
	}
	m, err := storage.ParseManifest(data)
	if err != nil || len(m.Files) != 3 || m.LatestTXID != 5 {
		t.Fatalf("manifest after republishing: %v, %v", m, err)
	}
	r = strata(t, "query", url, "select count(*) from t")
	r.want(t, 0)
	if strings.TrimSpace(r.stdout) != "4" {
		t.Errorf("query after republishing = %q, want 4", r.stdout)
	}

	strata(t, "publish", filepath.Join(t.TempDir(), "missing"), dir).want(t, 1, "does not exist")
	strata(t, "publish", src.Dir()).want(t, 2, "expected 2 argument")
}
