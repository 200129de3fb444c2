package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/strata-db/strata/internal/dbcopy"
)

func runImport(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("import", "import DB URL", stderr)
	pos, err := parseArgs(fs, args, 2)
	if err != nil {
		return err
	}
	src := pos[0]
	if st, err := os.Stat(src); err == nil && st.IsDir() {
		return fmt.Errorf("%w: %s is a directory; import takes the SQLite database file first, then the replica URL", errUsage, src)
	}
	if err := checkReplicaArg(pos[1], false); err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[1])
	if err != nil {
		return err
	}
	defer r.Store.Close()
	if err := r.CheckEmpty(ctx); err != nil {
		return err
	}
	// A consistent copy first: another process may be writing to src.
	tmp, err := os.MkdirTemp("", "strata-import-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(tmp)
	snapshot := filepath.Join(tmp, "snapshot.db")
	if err := dbcopy.Copy(ctx, src, snapshot); err != nil {
		return err
	}
	f, err := r.Import(ctx, snapshot)
	if err != nil {
		return err
	}
	fmt.Fprintf(stderr, "imported %s into %s as %s\n", src, r, f)
	return nil
}
