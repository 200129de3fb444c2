package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"os"
	"strconv"
	"testing"
	"time"

	"github.com/strata-db/strata/vfs"
)

// testHydrate is the hydrating opener of the test's child runs: the
// strata VFS, as `strata bench` has it.
func testHydrate(replicaURL, path string, cacheBytes int64) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{CacheSize: cacheBytes}); err != nil {
		return nil, err
	}
	params := []string{"cache_size", strconv.FormatInt(cacheBytes, 10)}
	if path != "" {
		params = append(params, "hydrate", path)
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, params...))
}

// The hydration scenarios run end to end on a tiny dataset and are judged;
// without a hydrating opener they are left out of the default list and
// refused by name.
func TestHydrationScenarios(t *testing.T) {
	t.Setenv(childEnv, "1")
	var out, log bytes.Buffer
	cfg := Config{
		Latency: 2 * time.Millisecond, Repeats: 1, L0: 3, JSON: true,
		LookupMiB: 2, CacheDir: t.TempDir(), Scenarios: hydrationScenarios,
		Openers: testOpeners, Opener: "restore", Hydrate: testHydrate, Exe: os.Args[0],
		Stdout: &out, Stderr: &log,
	}
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	rows := map[string]Row{}
	for _, row := range rep.Rows {
		rows[row.Scenario] = row
	}
	if r := rows[H1Hydrate]; r.Failed != 0 || r.Rates["hydrate_mbps"] <= 0 || r.Rates["restore_mbps"] <= 0 || r.Verdict == "" {
		t.Errorf("H1: %+v", r)
	}
	if r := rows[H2Warm]; r.Failed != 0 || r.Rates["strata"] <= 0 || r.Rates["local"] <= 0 || r.Verdict == "" {
		t.Errorf("H2: %+v", r)
	}
	// The catch-up of one new file: one listing, its pages from the cache.
	if r := rows[H3CatchUp]; r.Failed != 0 || r.Verdict != "ok" || r.Rates["extra_requests"] < 1 || r.Rates["downloaded"] != 0 {
		t.Errorf("H3: %+v", r)
	}

	without := Config{Openers: testOpeners, Opener: "restore", Exe: os.Args[0]}
	if err := without.check(); err != nil {
		t.Fatal(err)
	}
	for _, s := range without.Scenarios {
		if s == H1Hydrate || s == H2Warm || s == H3CatchUp {
			t.Errorf("default scenarios without a hydrating opener include %s", s)
		}
	}
	without.Scenarios = []string{H1Hydrate}
	if err := without.check(); err == nil {
		t.Error("H1 without a hydrating opener was accepted")
	}
}
