// Command strata-bench measures strata against object-storage latency: it
// starts versitygw on 127.0.0.1 behind a proxy that adds latency and
// counts requests, generates datasets, and runs each scenario in a fresh
// process of itself (see bench/README.md). It is a separate command so
// that the product binary, cmd/strata, links none of this harness.
//
//	strata-bench [-latency 20ms] [-full] [-json] [-scenarios S1,S3] ...
//
// `make bench` builds and runs it.
package main

import (
	"context"
	"database/sql"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/signal"
	"sort"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/strata-db/strata/bench"
	"github.com/strata-db/strata/bench/proxy"
	"github.com/strata-db/strata/vfs"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

// errUsage marks errors caused by how the command was called (exit 2).
var errUsage = errors.New("usage")

// run is the command: exit 0 on success (and -h), 1 when the benchmark
// failed, 2 when it was called wrongly.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	err := runBench(ctx, args, stdout, stderr)
	switch {
	case err == nil, errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "strata-bench: %v\n", err)
		return 2
	default:
		fmt.Fprintf(stderr, "strata-bench: %v\n", err)
		return 1
	}
}

// benchOpeners are the ways the benchmark can open a replica, chosen with
// -open: in place through the strata VFS (the default), or by restoring
// the whole database first (the baseline).
var benchOpeners = map[string]bench.OpenFunc{
	"vfs":     openBenchVFS,
	"restore": bench.OpenRestored,
}

func openBenchVFS(replicaURL string, cacheBytes int64) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{CacheSize: cacheBytes, ManageMemory: true}); err != nil {
		return nil, err
	}
	if cacheBytes <= 0 {
		return sql.Open("sqlite3", vfs.URI(replicaURL))
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, "cache_size", strconv.FormatInt(cacheBytes, 10)))
}

// openBenchWriter opens a replica writable for the write scenarios.
func openBenchWriter(replicaURL string, cacheBytes int64, sync, buffer string) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{CacheSize: cacheBytes, ManageMemory: true}); err != nil {
		return nil, err
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, "cache_size", strconv.FormatInt(cacheBytes, 10), "write", "1", "sync", sync, "buffer", buffer))
}

// openBenchHydrated opens a replica through the strata VFS hydrated into
// path (H scenarios), or without hydration when path is empty.
func openBenchHydrated(replicaURL, path string, cacheBytes int64) (*sql.DB, error) {
	if _, err := vfs.Register(vfs.Config{CacheSize: cacheBytes, ManageMemory: true}); err != nil {
		return nil, err
	}
	params := []string{"cache_size", strconv.FormatInt(cacheBytes, 10)}
	if path != "" {
		params = append(params, "hydrate", path)
	}
	return sql.Open("sqlite3", vfs.URI(replicaURL, params...))
}

// childFlag marks a re-execution of this binary for one cold run. It is
// not a documented flag: only the harness passes it.
const childFlag = "-child"

func runBench(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	cfg := bench.Config{
		Openers:   benchOpeners,
		OpenWrite: openBenchWriter,
		Hydrate:   openBenchHydrated,
		Stdout:    stdout, Stderr: stderr,
	}
	if len(args) == 1 && args[0] == childFlag {
		return bench.RunChild(ctx, cfg, os.Stdin, stdout)
	}
	if err := parseBenchFlags(&cfg, args, stderr); err != nil {
		return err
	}
	return bench.Run(ctx, cfg)
}

func parseBenchFlags(cfg *bench.Config, args []string, stderr io.Writer) error {
	fs := flag.NewFlagSet("strata-bench", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: strata-bench [flags]\n\nFlags:\n")
		fs.PrintDefaults()
	}
	fs.DurationVar(&cfg.Latency, "latency", proxy.DefaultLatency, "latency the proxy adds to every request")
	bandwidth := fs.String("bandwidth", "0", "cap on each response, in bytes/s (suffixes KiB, MiB, GiB, KB, MB, GB); 0 = none")
	fs.IntVar(&cfg.Repeats, "repeats", 3, "cold runs per scenario")
	fs.BoolVar(&cfg.Full, "full", false, "full sizes (lookups on 256 MiB, scan of 64 MiB) instead of quick ones")
	fs.IntVar(&cfg.L0, "l0", 100, "level-0 files (small transactions) on top of each snapshot")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios to run: S1,S2,S2-pk,S2-idx,S3,S4,S5,H1,H2,H3,W1-commit,W1-group,W2,W3 (default all); C1,C2 (compaction) on request")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory (server data) after the run")
	fs.StringVar(&cfg.CacheDir, "cache-dir", ".cache/bench", "where generated datasets are cached")
	fs.IntVar(&cfg.ScanMiB, "scan-mib", 0, "size of the S1/S3 database in MiB (default 16, -full 64)")
	fs.IntVar(&cfg.LookupMiB, "lookup-mib", 0, "size of the S2/S4/S5 database in MiB (default 32, -full 256)")
	fs.IntVar(&cfg.S5CacheMiB, "s5-cache-mib", 0, "page cache for S5 in MiB (default 8, -full 64)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "limit on one cold run")
	fs.StringVar(&cfg.Opener, "open", "vfs", "how to open the replica: "+strings.Join(openerNames(), ", "))
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return err
		}
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	if fs.NArg() > 0 {
		fs.Usage()
		return fmt.Errorf("%w: unexpected argument %q", errUsage, fs.Arg(0))
	}
	var err error
	if cfg.Bandwidth, err = parseBytes(*bandwidth); err != nil {
		return fmt.Errorf("%w: -bandwidth: %v", errUsage, err)
	}
	if *scenarios != "" {
		cfg.Scenarios = strings.Split(strings.ReplaceAll(*scenarios, " ", ""), ",")
	}
	return nil
}

func openerNames() []string {
	var names []string
	for name := range benchOpeners {
		names = append(names, name)
	}
	sort.Strings(names)
	return names
}

// parseBytes reads "10MiB", "500KB", "1048576".
func parseBytes(s string) (int64, error) {
	units := []struct {
		suffix string
		mult   int64
	}{
		{"KiB", 1 << 10}, {"MiB", 1 << 20}, {"GiB", 1 << 30},
		{"KB", 1e3}, {"MB", 1e6}, {"GB", 1e9},
	}
	mult := int64(1)
	for _, u := range units {
		if strings.HasSuffix(s, u.suffix) {
			s, mult = strings.TrimSuffix(s, u.suffix), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(strings.TrimSpace(s), 10, 64)
	if err != nil || n < 0 {
		return 0, fmt.Errorf("%q is not a byte count (e.g. 10MiB)", s)
	}
	return n * mult, nil
}
