package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"
	"time"
)

// The compaction scenarios run end to end on tiny data: C1 opens both
// replicas (the compacted one has fewer files and costs fewer requests),
// C2 writes a snapshot and reports its throughput and memory.
func TestCompactionScenarios(t *testing.T) {
	t.Setenv(childEnv, "1")
	var out, log bytes.Buffer
	cfg := Config{
		Latency: 2 * time.Millisecond, Repeats: 1, L0: 3, JSON: true,
		ScanMiB: 1, C1Commits: 150, C2MiB: 2, CacheDir: t.TempDir(),
		Scenarios: []string{"C1", C2Compact},
		Openers:   testOpeners, Opener: "restore", Exe: os.Args[0],
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
	l0, compacted, c2 := rows[C1L0], rows[C1Compacted], rows[C2Compact]
	for _, row := range []Row{l0, compacted, c2} {
		if row.Runs != 1 || row.Failed != 0 || row.PeakRSS == 0 {
			t.Errorf("%s: %+v", row.Scenario, row)
		}
	}
	if files := rep.Datasets[c1L0Data].Files; files != 151 {
		t.Errorf("C1 level-0 replica has %d files, want the snapshot and 150 commits", files)
	}
	if c := rep.Datasets[c1CompactedData].Files; c >= rep.Datasets[c1L0Data].Files || c == 0 {
		t.Errorf("the compacted replica has %d files", c)
	}
	if compacted.Requests >= l0.Requests {
		t.Errorf("opening the compacted replica took %d requests, the level-0 one %d", compacted.Requests, l0.Requests)
	}
	if !strings.Contains(c2.Note, "MB/s") || c2.Verdict == "" {
		t.Errorf("C2: %+v", c2)
	}
	for _, r := range rep.Runs {
		if p, ok := r.phase("compact"); ok && !strings.Contains(p.Result, "L9/0000000000000001-") {
			t.Errorf("C2 result %q", p.Result)
		}
	}
}
