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

// openTestVFS and openTestWriter open replicas through the strata VFS, as
// the strata command's openers do.
func openTestVFS(replicaURL string, cacheBytes int64) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{}); err != nil {
		return nil, err
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, "cache_size", strconv.FormatInt(cacheBytes, 10)))
}

func openTestWriter(replicaURL string, cacheBytes int64, sync, buffer string) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{}); err != nil {
		return nil, err
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, "cache_size", strconv.FormatInt(cacheBytes, 10), "write", "1", "sync", sync, "buffer", buffer))
}

// TestWriteScenariosEndToEnd runs the write scenarios once, small, and
// checks what they report: commit rates and the requests per commit, the
// bulk insert's uploads and memory, the reader's delay.
func TestWriteScenariosEndToEnd(t *testing.T) {
	t.Setenv(childEnv, "1")
	var out, log bytes.Buffer
	cfg := Config{
		Latency: 2 * time.Millisecond, Repeats: 1, JSON: true, CacheDir: t.TempDir(),
		Scenarios:  WriteScenarios,
		W1Duration: 300 * time.Millisecond, W2MiB: 12, W3Samples: 2,
		Openers: testOpeners, Opener: "vfs", OpenWrite: openTestWriter, Exe: os.Args[0],
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
	for _, s := range WriteScenarios {
		if row := rows[s]; row.Runs != 1 || row.Failed != 0 || row.Verdict == "" {
			t.Errorf("%s: %+v", s, row)
		}
	}
	// sync=commit: one conditional PUT per commit, nothing else per commit
	// but the poller's listings.
	if r := rows[W1Commit].Rates; r["commits"] <= 0 || r["puts"] < 0.99 || r["puts"] > 1.05 || r["gets"] > 0.05 {
		t.Errorf("W1-commit rates %v", r)
	}
	// sync=1s: many commits, at most a PUT or two in 300ms.
	if r := rows[W1Group].Rates; r["commits"] <= 0 || r["puts"]*r["commits"]*r["seconds"] > 2 {
		t.Errorf("W1-group rates %v", r)
	}
	// 12 MiB: a multipart upload of two 8 MiB parts.
	if r := rows[W2Bulk].Rates; r["puts"] != 2 || r["posts"] != 2 || rows[W2Bulk].PeakRSS == 0 {
		t.Errorf("W2: rates %v, peak RSS %d", r, rows[W2Bulk].PeakRSS)
	}
	if r := rows[W3Seen].Rates; r["max_ms"] <= 0 || r["max_ms"] > 10_000 {
		t.Errorf("W3 rates %v", r)
	}
}
