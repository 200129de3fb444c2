// Command strata reads, restores and imports SQLite databases stored as
// chains of LTX files in a directory or an S3 bucket.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"sort"
	"strings"
)

// command is one subcommand: its one-line summary and its entry point.
type command struct {
	summary string
	run     func(ctx context.Context, args []string, stdout, stderr io.Writer) error
}

func commands() map[string]command {
	return map[string]command{
		"restore":  {"materialize a replica into a local SQLite file", runRestore},
		"import":   {"upload an existing SQLite database as the first snapshot of an empty replica", runImport},
		"ls":       {"list the LTX files of a replica, per level", runLs},
		"compact":  {"merge files into higher levels, snapshot and apply retention (one pass, or -watch)", runCompact},
		"snapshot": {"write a snapshot of the latest state to level 9 now", runSnapshot},
		"query":    {"run SQL on a replica in place, through the strata VFS", runQuery},
		"shell":    {"interactive SQL prompt on a replica", runShell},
		"exec":     {"run writing SQL on a replica (one transaction) and store the result", runExec},
		"publish":  {"lay out a replica in a directory for a static web server (read it with https://)", runPublish},
		"version":  {"print the version of strata and the commit it was built from", runVersion},
	}
}

// errUsage marks errors caused by how the command was called (exit 2).
var errUsage = errors.New("usage")

// stdin is the command's standard input (the shell reads it); tests
// replace it.
var stdin io.Reader = os.Stdin

func main() {
	ctx, stop := handleSignals()
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stdout, os.Stderr))
}

func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	cmds := commands()
	if len(args) > 0 && (args[0] == "--version" || args[0] == "-version") {
		args = []string{"version"}
	}
	if len(args) == 0 || args[0] == "-h" || args[0] == "--help" || args[0] == "help" {
		usage(stderr, cmds)
		if len(args) == 0 {
			return 2
		}
		return 0
	}
	cmd, ok := cmds[args[0]]
	if !ok {
		fmt.Fprintf(stderr, "strata: unknown command %q\n\n", args[0])
		usage(stderr, cmds)
		return 2
	}
	err := cmd.run(ctx, args[1:], stdout, stderr)
	switch {
	case err == nil:
		return 0
	case errors.Is(err, flag.ErrHelp):
		return 0
	case errors.Is(err, errUsage):
		fmt.Fprintf(stderr, "strata %s: %v\n", args[0], err)
		return 2
	case interruptedBy(ctx) != nil:
		// Whatever the command said, it stopped because of the signal.
		sig := interruptedBy(ctx)
		fmt.Fprintf(stderr, "strata %s: interrupted (%s)\n", args[0], sig.String())
		return 128 + sig.number()
	default:
		fmt.Fprintf(stderr, "strata %s: %v\n", args[0], err)
		return 1
	}
}

func usage(w io.Writer, cmds map[string]command) {
	fmt.Fprintln(w, "strata: SQLite databases in object storage, queried in place.")
	fmt.Fprintln(w, "\nUsage: strata <command> [flags] [args]\n\nCommands:")
	names := make([]string, 0, len(cmds))
	for name := range cmds {
		names = append(names, name)
	}
	sort.Strings(names)
	for _, name := range names {
		fmt.Fprintf(w, "  %-9s %s\n", name, cmds[name].summary)
	}
	fmt.Fprintln(w, "\nReplica URLs: /path/to/dir, file:///path/to/dir, s3://bucket/prefix?endpoint=URL&region=R&force-path-style=true")
	fmt.Fprintln(w, "Run 'strata <command> -h' for a command's flags, 'strata version' for the version.")
}

// newFlags returns a FlagSet whose -h output shows the command's synopsis.
func newFlags(name, synopsis string, stderr io.Writer) *flag.FlagSet {
	fs := flag.NewFlagSet(name, flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Usage = func() {
		fmt.Fprintf(stderr, "Usage: strata %s\n\nFlags:\n", synopsis)
		fs.PrintDefaults()
	}
	return fs
}

// parseArgs parses flags that may come before, between or after the
// positional arguments, and checks how many positionals there are.
func parseArgs(fs *flag.FlagSet, args []string, want int) ([]string, error) {
	var pos []string
	for {
		if err := fs.Parse(args); err != nil {
			if errors.Is(err, flag.ErrHelp) {
				return nil, err
			}
			return nil, fmt.Errorf("%w: %v", errUsage, err)
		}
		args = fs.Args()
		if len(args) == 0 {
			break
		}
		pos = append(pos, args[0])
		args = args[1:]
	}
	if len(pos) != want {
		fs.Usage()
		return nil, fmt.Errorf("%w: expected %d argument(s), got %d: %s", errUsage, want, len(pos), strings.Join(pos, " "))
	}
	return pos, nil
}
