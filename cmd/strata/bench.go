package main

import (
	"context"
	"database/sql"
	"fmt"
	"io"
	"os"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/bench"
	"github.com/strata-db/strata/bench/proxy"
	"github.com/strata-db/strata/vfs"
)

// benchOpeners are the ways `strata bench` can open a replica, chosen with
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
		ChildArgs: []string{"bench"},
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
	fs := newFlags("bench", "bench [flags]", stderr)
	fs.DurationVar(&cfg.Latency, "latency", proxy.DefaultLatency, "latency the proxy adds to every request")
	bandwidth := fs.String("bandwidth", "0", "cap on each response, in bytes/s (suffixes KiB, MiB, GiB, KB, MB, GB); 0 = none")
	fs.IntVar(&cfg.Repeats, "repeats", 3, "cold runs per scenario")
	fs.BoolVar(&cfg.Full, "full", false, "full sizes (lookups on 256 MiB, scan of 64 MiB) instead of quick ones")
	fs.IntVar(&cfg.L0, "l0", 100, "level-0 files (small transactions) on top of each snapshot")
	scenarios := fs.String("scenarios", "", "comma-separated scenarios to run: S1,S2,S2-pk,S2-idx,S3,S4,S5,H1,H2,H3,W1-commit,W1-group,W2,W3 (default all)")
	fs.BoolVar(&cfg.JSON, "json", false, "print the results as JSON")
	fs.BoolVar(&cfg.Keep, "keep", false, "keep the work directory (server data) after the run")
	fs.StringVar(&cfg.CacheDir, "cache-dir", ".cache/bench", "where generated datasets are cached")
	fs.IntVar(&cfg.ScanMiB, "scan-mib", 0, "size of the S1/S3 database in MiB (default 16, -full 64)")
	fs.IntVar(&cfg.LookupMiB, "lookup-mib", 0, "size of the S2/S4/S5 database in MiB (default 32, -full 256)")
	fs.IntVar(&cfg.S5CacheMiB, "s5-cache-mib", 0, "page cache for S5 in MiB (default 8, -full 64)")
	fs.DurationVar(&cfg.Timeout, "timeout", 5*time.Minute, "limit on one cold run")
	fs.StringVar(&cfg.Opener, "open", defaultOpener(), "how to open the replica: "+strings.Join(openerNames(), ", "))
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
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

func defaultOpener() string {
	if _, ok := benchOpeners["vfs"]; ok {
		return "vfs"
	}
	return "restore"
}

func openerNames() []string {
	var names []string
	for name := range benchOpeners {
		names = append(names, name)
	}
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
