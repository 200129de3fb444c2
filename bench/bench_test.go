package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/url"
	"os"
	"slices"
	"testing"
	"time"
)

// childEnv makes the test binary act as a benchmark child process, the
// way `strata-bench -child` does.
const childEnv = "STRATA_BENCH_TEST_CHILD"

var testOpeners = map[string]OpenFunc{"restore": OpenRestored, "vfs": openTestVFS}

func TestMain(m *testing.M) {
	if os.Getenv(childEnv) == "1" {
		cfg := Config{Openers: testOpeners, OpenWrite: openTestWriter, Hydrate: testHydrate}
		if err := RunChild(context.Background(), cfg, os.Stdin, os.Stdout); err != nil {
			os.Stderr.WriteString(err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// TestRunEndToEnd runs every scenario once on tiny datasets with the
// restore baseline, and checks the report is complete and sane.
func TestRunEndToEnd(t *testing.T) {
	t.Setenv(childEnv, "1")
	var out, log bytes.Buffer
	cfg := Config{
		Latency: 2 * time.Millisecond, Repeats: 1, L0: 3, JSON: true,
		ScanMiB: 1, LookupMiB: 2, S5CacheMiB: 1, CacheDir: t.TempDir(),
		Openers: testOpeners, Opener: "restore", Exe: os.Args[0],
		Stdout: &out, Stderr: &log,
	}
	if err := Run(context.Background(), cfg); err != nil {
		t.Fatalf("%v\n%s", err, log.String())
	}
	var rep report
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	measured := map[string]Row{}
	for _, row := range rep.Rows {
		if !row.Computed {
			measured[row.Scenario] = row
		}
	}
	for _, s := range AllScenarios {
		if isWrite(s) {
			continue // this binary cannot write (see TestWriteScenariosEndToEnd)
		}
		if slices.Contains(hydrationScenarios, s) {
			continue // no hydrating opener here: TestHydrationScenarios
		}
		row, ok := measured[s]
		if !ok || row.Runs != 1 || row.Failed != 0 || row.Verdict == "" {
			t.Errorf("%s: %+v", s, row)
		}
	}
	// The restore baseline downloads all 4 files while opening.
	if open := measured[S1Open]; open.RangeGETs < 4 || open.Bytes < 1<<20 || open.PeakRSS == 0 {
		t.Errorf("S1: %+v", open)
	}
	if warm := measured[S4Warm]; warm.Rates["strata"] <= 0 || warm.Rates["local"] <= 0 {
		t.Errorf("S4 rates %v", warm.Rates)
	}
	// The scan must see every row: count(*), then the sum of lengths.
	rows := rep.Datasets[scanData].Rows
	want := fmt.Sprintf("%d %d", rows, rows*100)
	for _, r := range rep.Runs {
		if p, ok := r.phase("scan"); ok && r.Scenario == S3Scan && p.Result != want {
			t.Errorf("S3 result %q, want %q", p.Result, want)
		}
	}
}

func TestViaProxy(t *testing.T) {
	got, err := viaProxy("s3://b/p?endpoint=http://127.0.0.1:1&force-path-style=true", "http://127.0.0.1:2")
	if err != nil {
		t.Fatal(err)
	}
	u, _ := url.Parse(got)
	if u.Host != "b" || u.Path != "/p" || u.Query().Get("endpoint") != "http://127.0.0.1:2" || u.Query().Get("force-path-style") != "true" {
		t.Errorf("got %s", got)
	}
}

func TestVerdicts(t *testing.T) {
	if v := atMost(4, 4); v != "ok" {
		t.Error(v)
	}
	if v := atMost(6, 4); v != "MISS 1.5x" {
		t.Error(v)
	}
	if v := atLeast(40, 80); v != "MISS 50%" {
		t.Error(v)
	}
	if v := both("MISS 2.0x", "req", "ok", "time"); v != "MISS 2.0x req" {
		t.Error(v)
	}
	if v := both("MISS 2.0x", "req", "MISS 3.0x", "time"); v != "MISS 2.0x req, 3.0x time" {
		t.Error(v)
	}
}

func TestMeasuredRow(t *testing.T) {
	run := func(reqs int64, wall time.Duration, rss int64) runResult {
		r := runResult{Scenario: S3Scan, PeakRSS: rss}
		r.Phases = []phase{{Name: "open", Wall: time.Hour}, {Name: "scan", Wall: wall}}
		r.Phases[1].Stats.Requests = reqs
		return r
	}
	runs := []runResult{run(10, 3*time.Second, 5), run(30, time.Second, 7), run(20, 2*time.Second, 6),
		{Scenario: S3Scan, Err: "boom"}, run(99, time.Hour, 99)}
	runs[4].Scenario = S1Open // another scenario: ignored
	row := measuredRow(S3Scan, runs)
	if row.Runs != 4 || row.Failed != 1 || row.Requests != 20 || row.WallP50 != 2*time.Second ||
		row.WallP95 != 3*time.Second || row.PeakRSS != 7 || len(row.Errors) != 1 {
		t.Errorf("%+v", row)
	}
}

func TestPickRowInRange(t *testing.T) {
	seen := map[int64]bool{}
	for seed := range uint64(1000) {
		id := pickRow(seed, 50)
		if id < 1 || id > 50 {
			t.Fatalf("pickRow(%d, 50) = %d", seed, id)
		}
		seen[id] = true
	}
	if len(seen) < 40 {
		t.Errorf("only %d of 50 rows picked", len(seen))
	}
}
