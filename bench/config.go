// Package bench is strata's benchmark harness. It starts versitygw on the
// loopback interface behind a proxy that adds a fixed per-request latency,
// generates and uploads datasets, and runs each scenario in a fresh child
// process (a cold start with an empty cache), counting requests and bytes
// at the proxy and peak RSS from the child's rusage.
//
// The harness does not import the VFS: the command that embeds it passes
// an OpenFunc, so it can measure any way of opening a replica (the strata
// VFS, or the restore-then-query baseline OpenRestored).
package bench

import (
	"database/sql"
	"fmt"
	"io"
	"os"
	"slices"
	"time"
)

// OpenFunc opens the replica at replicaURL for reads through database/sql,
// with a page cache of cacheBytes. It is called once per process.
type OpenFunc func(replicaURL string, cacheBytes int64) (*sql.DB, error)

// WriteOpenFunc opens the replica at replicaURL writable through the VFS,
// with a page cache of cacheBytes, COMMITs returning as sync says
// ("commit" or a group commit interval), and the write buffer in buffer.
type WriteOpenFunc func(replicaURL string, cacheBytes int64, sync, buffer string) (*sql.DB, error)

// Scenario names, in the order they run.
const (
	S1Open     = "S1"
	S2PK       = "S2-pk"
	S2Index    = "S2-idx"
	S3Scan     = "S3"
	S4Warm     = "S4"
	S5Memory   = "S5"
	allS2Alias = "S2" // -scenarios S2 means both lookups
)

// AllScenarios lists every scenario in run order: the reads, then the
// writes (write.go), which need Config.OpenWrite.
var AllScenarios = append([]string{S1Open, S2PK, S2Index, S3Scan, S4Warm, S5Memory}, WriteScenarios...)

// Config is one run of the harness. The same Config is used by the
// parent and by the child processes it starts.
type Config struct {
	Latency   time.Duration // injected per request (proxy.DefaultLatency is 20ms)
	Bandwidth int64         // bytes/s per response; 0 = unlimited
	Repeats   int           // cold runs per scenario
	Full      bool          // the full sizes instead of quick ones
	L0        int           // level-0 files on top of each snapshot
	Scenarios []string      // subset of AllScenarios; empty = all
	JSON      bool          // print JSON instead of a table
	Keep      bool          // keep the work directory (server data, logs)
	CacheDir  string        // where generated datasets are kept

	// Sizes in MiB; zero picks the quick or full default.
	ScanMiB, LookupMiB, S5CacheMiB int
	// The write scenarios' sizes; zero picks the default: W1 commits for
	// W1Duration (3s, -full 10s), W2 inserts W2MiB (50), W3 times
	// W3Samples commits (10).
	W1Duration       time.Duration
	W2MiB, W3Samples int

	// C1Commits is how many commits C1 replays, one every 4.32 s (0:
	// 20,000, a day); C2MiB the size of C2's database (0: 256).
	C1Commits, C2MiB int

	Timeout time.Duration // bound on one child run

	// Openers are the ways of opening a replica the binary offers; Opener
	// names the one to measure.
	Openers map[string]OpenFunc
	Opener  string
	// OpenWrite opens a replica for the write scenarios; nil leaves them
	// out of the default run.
	OpenWrite WriteOpenFunc
	// Hydrate opens a replica with a hydrated file, for the H scenarios
	// (hydrate.go); without it they do not run.
	Hydrate HydrateFunc

	// Exe and ChildArgs re-execute this binary for a cold run:
	// Exe ChildArgs... -child. Exe defaults to os.Executable().
	Exe       string
	ChildArgs []string

	Stdout, Stderr io.Writer
}

// sizes are the dataset and cache sizes of a run, in MiB.
type sizes struct {
	Scan, Lookup, S5Cache int
	S4Duration            time.Duration
	W1Duration            time.Duration // how long W1 commits
	W2                    int           // MiB W2 inserts
	W3Samples             int           // commits W3 times
}

func (c Config) sizes() sizes {
	s := sizes{Scan: 16, Lookup: 32, S5Cache: 8, S4Duration: time.Second, W1Duration: 3 * time.Second, W2: 50, W3Samples: 10}
	if c.Full {
		s = sizes{Scan: 64, Lookup: 256, S5Cache: 64, S4Duration: 3 * time.Second, W1Duration: 10 * time.Second, W2: 50, W3Samples: 30}
	}
	if c.W1Duration > 0 {
		s.W1Duration = c.W1Duration
	}
	s.W2, s.W3Samples = pick(c.W2MiB, s.W2), pick(c.W3Samples, s.W3Samples)
	s.Scan = pick(c.ScanMiB, s.Scan)
	s.Lookup = pick(c.LookupMiB, s.Lookup)
	s.S5Cache = pick(c.S5CacheMiB, s.S5Cache)
	return s
}

func pick(v, def int) int {
	if v > 0 {
		return v
	}
	return def
}

// check fills defaults and rejects impossible settings.
func (c *Config) check() error {
	if c.Latency < 0 || c.Bandwidth < 0 || c.L0 < 0 {
		return fmt.Errorf("latency, bandwidth and -l0 must not be negative")
	}
	c.Repeats = max(c.Repeats, 1)
	if c.Timeout <= 0 {
		c.Timeout = 5 * time.Minute
	}
	if _, ok := c.Openers[c.Opener]; !ok {
		return fmt.Errorf("unknown opener %q (have %v)", c.Opener, openerNames(c.Openers))
	}
	asked := len(c.Scenarios) > 0
	if !asked {
		c.Scenarios = AllScenarios
		if c.OpenWrite == nil {
			c.Scenarios = slices.DeleteFunc(slices.Clone(AllScenarios), isWrite)
		}
	}
	var expanded []string
	for _, s := range c.Scenarios {
		if s == allS2Alias {
			expanded = append(expanded, S2PK, S2Index)
			continue
		}
		if s == c1Alias {
			expanded = append(expanded, C1L0, C1Compacted)
			continue
		}
		if !slices.Contains(AllScenarios, s) && !slices.Contains(CompactionScenarios, s) {
			return fmt.Errorf("unknown scenario %q (have %v, %v, or S2 for both lookups, C1 for both opens)", s, AllScenarios, CompactionScenarios)
		}
		if isWrite(s) && c.OpenWrite == nil {
			return fmt.Errorf("scenario %s writes: this binary cannot open a replica for writing", s)
		}
		expanded = append(expanded, s)
	}
	c.Scenarios = expanded
	if err := c.checkHydration(asked); err != nil {
		return err
	}
	if c.Exe == "" {
		exe, err := os.Executable()
		if err != nil {
			return fmt.Errorf("find own executable for child runs: %w", err)
		}
		c.Exe = exe
	}
	return nil
}

func openerNames(m map[string]OpenFunc) []string {
	var names []string
	for k := range m {
		names = append(names, k)
	}
	slices.Sort(names)
	return names
}
