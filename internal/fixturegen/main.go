// Command fixturegen writes the repository's Litestream fixtures
// (testdata/shop and testdata/regrow, see testdata/README.md) with the real
// `litestream replicate`: for each fixture it creates a database in WAL
// mode, starts litestream on it with a file replica, runs the fixture's
// workload one transaction at a time, waiting after each commit for its
// level-0 file so that every transaction is exactly one TXID, records the
// truth (truth.json), waits for the compaction levels the fixture is meant
// to show, stops litestream, and checks every state by restoring it with
// `litestream restore -txid`.
//
//	go run ./internal/fixturegen [-out testdata] [-only shop] [-litestream PATH] [-keep]
//
// `make fixtures` runs it. It needs litestream v0.5.18 and fails, with the
// install command, without it.
package main

import (
	"context"
	"flag"
	"fmt"
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
)

func main() {
	out := flag.String("out", "testdata", "directory to write the fixtures into (one subdirectory each)")
	only := flag.String("only", "", "write only this fixture (shop or regrow)")
	bin := flag.String("litestream", "", "litestream binary (default: litestream on PATH, else in GOPATH/bin)")
	keep := flag.Bool("keep", false, "keep each fixture's working directory (database, litestream.yml, log)")
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	if err := run(ctx, *out, *only, *bin, *keep); err != nil {
		fmt.Fprintln(os.Stderr, "fixturegen:", err)
		os.Exit(1)
	}
}

func run(ctx context.Context, out, only, bin string, keep bool) error {
	ls, err := findLitestream(bin)
	if err != nil {
		return err
	}
	var todo []workload
	for _, w := range workloads {
		if only == "" || only == w.name {
			todo = append(todo, w)
		}
	}
	if len(todo) == 0 {
		return fmt.Errorf("-only %q: no such fixture (shop, regrow)", only)
	}
	for _, w := range todo {
		fmt.Fprintf(os.Stderr, "==> %s: writing with %s\n", w.name, ls)
		g := &generator{w: w, bin: ls, keep: keep}
		if err := g.run(ctx, filepath.Join(out, w.name)); err != nil {
			return fmt.Errorf("%s: %w", w.name, err)
		}
	}
	return nil
}
