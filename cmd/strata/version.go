package main

import (
	"context"
	"fmt"
	"io"
	"runtime"
	"runtime/debug"
)

// buildVersion describes the binary from what the Go toolchain recorded in
// it: the module version ("(devel)" for a plain go build outside a tagged
// module; a pseudo-version when built from a git checkout), the VCS commit,
// its time, and whether the tree had uncommitted changes.
func buildVersion() string {
	version, commit, when, modified := "(unknown)", "unknown", "", false
	if bi, ok := debug.ReadBuildInfo(); ok {
		if bi.Main.Version != "" {
			version = bi.Main.Version
		}
		for _, s := range bi.Settings {
			switch s.Key {
			case "vcs.revision":
				commit = s.Value
			case "vcs.time":
				when = s.Value
			case "vcs.modified":
				modified = s.Value == "true"
			}
		}
	}
	s := fmt.Sprintf("strata %s\ncommit %s", version, commit)
	if when != "" {
		s += " (" + when + ")"
	}
	if modified {
		s += " with uncommitted changes"
	}
	return s + fmt.Sprintf("\n%s %s/%s\n", runtime.Version(), runtime.GOOS, runtime.GOARCH)
}

func runVersion(_ context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("version", "version", stderr)
	if _, err := parseArgs(fs, args, 0); err != nil {
		return err
	}
	_, err := io.WriteString(stdout, buildVersion())
	return err
}
