package integration

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/engine"
	"github.com/strata-db/strata/hydrate"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/internal/ltxtest"
)

// hydrationOf is PRAGMA strata_hydration on q, decoded.
func hydrationOf(t testing.TB, q querier) engine.Hydration {
	t.Helper()
	var h engine.Hydration
	if err := json.Unmarshal([]byte(mustScalar[string](t, q, `pragma strata_hydration`)), &h); err != nil {
		t.Fatal(err)
	}
	return h
}

// Hydration on S3, counted at the proxy: once the file is complete, a full
// scan makes no request; after a restart with one new commit, the file is
// caught up with about that commit's bytes, not the database's.
func TestHydrationOnS3(t *testing.T) {
	srv, bucket := s3Env(t)
	w := ltxtest.NewWriter(t, srv.Store(t, bucket, "bank"), filepath.Join(t.TempDir(), "local.db"))
	w.Exec(`create table t(id integer primary key, v blob)`)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 600)
		insert into t(v) select randomblob(3000) from n`)
	proxy := newFaultProxy(t, srv.Endpoint())
	url := s3URL(proxy.URL(), bucket, "bank")
	path := filepath.Join(t.TempDir(), "bank.db")
	params := []string{"hydrate", path, "poll_interval", "1h"}

	waitFor := func(db querier) engine.Hydration {
		t.Helper()
		var h engine.Hydration
		eventually(t, 30*time.Second, func() (bool, string) {
			h = hydrationOf(t, db)
			return h.State == engine.HydrationComplete && h.TXID == w.TXID(), fmt.Sprintf("hydration %+v, want complete at %s", h, w.TXID())
		})
		return h
	}
	scan := func(db querier) {
		t.Helper()
		proxy.resetCounts()
		if got := mustScalar[string](t, db, `select count(*) || ' ' || sum(length(v)) || ' ' || (select * from pragma_integrity_check) from t`); got != "600 1800000 ok" {
			t.Errorf("scan: %q", got)
		}
		if c := proxy.counts(); c.gets != 0 {
			t.Errorf("a full scan of the hydrated database made %s, want no GET", c)
		}
	}

	db := openReplica(t, url, params...)
	start := time.Now()
	first := waitFor(db)
	t.Logf("hydrated %d bytes in %s", first.Bytes, time.Since(start).Round(time.Millisecond))
	scan(db)
	db.Close() // the only handle: the replica is closed in this process

	f := w.Exec(`update t set v = randomblob(3000) where id = 300`)
	size, err := os.Stat(path)
	if err != nil {
		t.Fatal(err)
	}
	proxy.resetCounts()
	db = openReplica(t, url, params...)
	h := waitFor(db)
	c, bytes := proxy.counts(), proxy.bytes.Load()
	t.Logf("restart with 1 new file of %d bytes (database %d bytes): %s, %d bytes received; the hydrator downloaded %d bytes",
		f.Size, size.Size(), c, bytes, h.Downloaded)
	if h.Downloaded > f.Size {
		t.Errorf("the hydrator downloaded %d bytes; the one new file has %d", h.Downloaded, f.Size)
	}
	if bytes > size.Size()/8 {
		t.Errorf("the restart received %d bytes for a %d-byte database: it should be about the new file and page indexes", bytes, size.Size())
	}
	scan(db)
}

// The extension hydrates into STRATA_HYDRATE; strata_hydration() and
// strata_hydration_progress() report it; the file is the database, which
// the plain sqlite3 shell reads.
func TestExtHydration(t *testing.T) {
	states := fixture.Truth(t)
	path := filepath.Join(t.TempDir(), "shop.db")
	r := extPython(t, extEnv("STRATA_HYDRATE="+path), fmt.Sprintf(`
import json
db = connect(%q)
print(orders(db))
for i in range(600):
    h = json.loads(one(db, "select strata_hydration()"))
    if h["state"] != "running":
        break
    time.sleep(0.05)
print(h["state"], h["txid"], one(db, "select strata_hydration_progress()"), one(db, "pragma strata_hydration_progress"))
`, fixture.ReplicaDir(t)))
	extOK(t, "python", r)
	last := states[len(states)-1]
	want := fmt.Sprintf("%s\ncomplete %s 100.0 100.0\n", extOrders(last), states[len(states)-1].TXID)
	if r.stdout != want {
		t.Fatalf("got\n%s\nwant\n%s", r.stdout, want)
	}
	st, ok, err := hydrate.ReadState(path)
	if err != nil || !ok || st.Phase != hydrate.Complete {
		t.Fatalf("sidecar %+v (exists %v): %v", st, ok, err)
	}
	extRequire(t, extSQLite3, "Debian package sqlite3")
	out := extRun(t, t.TempDir(), extEnv(), "", extSQLite3, "-readonly", path, "select count(*), sum(cents) from orders; pragma integrity_check;")
	if out.err != nil || strings.TrimSpace(out.stdout) != extOrders(last)+"\nok" {
		t.Fatalf("sqlite3 on the hydrated file: %s", out)
	}
}
