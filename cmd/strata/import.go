package main

import (
	"context"
	"fmt"
	"io"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "import DB URL", stderr)
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[1])
	if err != nil {
		return err
	}
	f, err := r.Import(ctx, pos[0])
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "imported %s into %s as %s\n", pos[0], r, f)
	return nil
}
