package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata/replica"
)

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", "restore [-txid N | -timestamp T] [-f] -o OUT.db URL", stderr)
	out := fs.String("o", "", "output database `path` (required)")
	var tf targetFlags
	tf.register(fs, "restore")
	force := fs.Bool("f", false, "overwrite OUT.db if it exists")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *out == "" {
		return fmt.Errorf("%w: -o OUT.db is required", errUsage)
	}
	target, err := tf.target()
	if err != nil {
		return err
	}
	if _, err := os.Stat(*out); err == nil && !*force {
		return fmt.Errorf("%s already exists (use -f to overwrite)", *out)
	}
	r, err := openReplica(ctx, pos[0])
	if err != nil {
		return err
	}
	defer r.Store.Close()
	start := time.Now()
	plan, err := r.Plan(ctx, target)
	if err != nil {
		return err
	}
	progress := newProgress(stderr)
	if err := restoreTo(ctx, r, plan, *out, progress); err != nil {
		return err
	}
	progress.done()
	fmt.Fprintf(stderr, "restored TXID %s (%d files) to %s in %s\n", plan.TXID, len(plan.Files), *out, time.Since(start).Round(time.Millisecond))
	return nil
}

// restoreTo restores into a temporary file beside out and renames it into
// place, so a failed restore never leaves a half-written database at out.
func restoreTo(ctx context.Context, r *replica.Replica, plan replica.Plan, out string, p *progress) error {
	tmp, err := os.CreateTemp(filepath.Dir(out), "."+filepath.Base(out)+".restore-*")
	if err != nil {
		return fmt.Errorf("create output: %w", err)
	}
	defer os.Remove(tmp.Name())
	// CreateTemp makes the file private (0600); give the result the mode of
	// the file it replaces, or what a new database file would get.
	mode := os.FileMode(0o644)
	if st, err := os.Stat(out); err == nil {
		mode = st.Mode().Perm()
	}
	if err := tmp.Chmod(mode); err != nil {
		tmp.Close()
		return fmt.Errorf("chmod %s: %w", tmp.Name(), err)
	}
	err = r.Restore(ctx, plan, tmp, replica.RestoreOptions{Progress: p.update})
	if cerr := tmp.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		return err
	}
	if err := os.Rename(tmp.Name(), out); err != nil {
		return fmt.Errorf("rename into %s: %w", out, err)
	}
	return nil
}

// progress prints a one-line restore progress on a terminal, and nothing
// when stderr is a pipe or a file.
type progress struct {
	w       io.Writer
	enabled bool
	shown   bool
	last    time.Time
}

func newProgress(w io.Writer) *progress {
	f, ok := w.(*os.File)
	enabled := false
	if ok {
		if st, err := f.Stat(); err == nil && st.Mode()&os.ModeCharDevice != 0 {
			enabled = true
		}
	}
	return &progress{w: w, enabled: enabled, last: time.Now()}
}

func (p *progress) update(done, total int64) {
	if !p.enabled || total == 0 || (time.Since(p.last) < 200*time.Millisecond && done < total) {
		return
	}
	p.last = time.Now()
	p.shown = true
	fmt.Fprintf(p.w, "\rrestoring: %3d%% (%.1f / %.1f MiB)", done*100/total, float64(done)/(1<<20), float64(total)/(1<<20))
}

func (p *progress) done() {
	if p.shown {
		fmt.Fprintln(p.w)
	}
}
