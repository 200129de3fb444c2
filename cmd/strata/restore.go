package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/vfs"
)

// restoreFlags are the flags of `strata restore`, named as Litestream's
// restore names them where both have the option.
type restoreFlags struct {
	out             string
	target          targetFlags
	force           bool
	follow          bool
	followInterval  time.Duration
	ifDBNotExists   bool
	ifReplicaExists bool
	dryRun          bool
}

func runRestore(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("restore", "restore [-txid N | -timestamp T | -f] [-force] [-if-db-not-exists] [-if-replica-exists] [-dry-run] -o OUT.db URL", stderr)
	var rf restoreFlags
	fs.StringVar(&rf.out, "o", "", "output database `path` (required)")
	rf.target.register(fs, "restore")
	fs.BoolVar(&rf.force, "force", false, "overwrite OUT.db if it exists, removing its -wal, -shm and -journal files")
	fs.BoolVar(&rf.follow, "f", false, "follow: after restoring, keep OUT.db current with the replica's new transactions until interrupted")
	fs.DurationVar(&rf.followInterval, "follow-interval", time.Second, "with -f: how often to look for new transactions")
	fs.BoolVar(&rf.ifDBNotExists, "if-db-not-exists", false, "do nothing (exit 0) if OUT.db already exists")
	fs.BoolVar(&rf.ifReplicaExists, "if-replica-exists", false, "do nothing (exit 0) if the replica does not exist or has no files yet")
	fs.BoolVar(&rf.dryRun, "dry-run", false, "print the restore plan (files, bytes, TXID) and write nothing")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	target, err := rf.target.target()
	if err != nil {
		return err
	}
	switch {
	case rf.out == "" && !rf.dryRun:
		return fmt.Errorf("%w: -o OUT.db is required", errUsage)
	case rf.follow && !target.IsLatest():
		return fmt.Errorf("%w: -f follows the latest state; it cannot be used with -txid or -timestamp", errUsage)
	case rf.follow && rf.dryRun:
		return fmt.Errorf("%w: -f and -dry-run cannot be used together", errUsage)
	case rf.followInterval <= 0:
		return fmt.Errorf("%w: -follow-interval must be positive", errUsage)
	}
	log := cliLogger()
	url := pos[0]
	out := output{path: rf.out}

	if rf.ifDBNotExists && rf.out != "" {
		if _, err := os.Stat(rf.out); err == nil {
			fmt.Fprintf(stderr, "%s exists: nothing restored (-if-db-not-exists)\n", rf.out)
			return nil
		}
	}
	if err := checkReplicaArg(url, true); err != nil {
		if errors.Is(err, errNoReplica) && rf.ifReplicaExists {
			fmt.Fprintf(stderr, "%v: nothing restored (-if-replica-exists)\n", err)
			return nil
		}
		return err
	}
	if rf.out != "" && !rf.dryRun {
		if err := out.check(rf.force); err != nil {
			return err
		}
	}
	r, err := openReplica(ctx, url)
	if err != nil {
		return err
	}
	start := time.Now()
	files, err := r.Files(ctx)
	if err == nil && len(files) == 0 {
		err = fmt.Errorf("%s: %w", r, replica.ErrEmpty)
	}
	if errors.Is(err, replica.ErrEmpty) {
		if rf.ifReplicaExists {
			fmt.Fprintf(stderr, "replica %s has no files yet: nothing restored (-if-replica-exists)\n", r)
			return nil
		}
		return fmt.Errorf("replica %s exists but has no LTX files yet (-if-replica-exists makes restore exit 0 when there is nothing to restore): %w", r, replica.ErrEmpty)
	}
	if err != nil {
		return err
	}
	if rf.dryRun {
		plan, err := r.PlanAround(ctx, files, target, nil, func(replica.Plan) error { return nil })
		if err != nil {
			return err
		}
		return printPlan(ctx, stdout, r, plan, target, rf)
	}

	progress := newProgress(stderr)
	tmp, swept, err := out.createTemp()
	if len(swept) > 0 {
		fmt.Fprintf(stderr, "removed %d temporary file(s) left by an earlier interrupted restore: %s\n", len(swept), strings.Join(swept, ", "))
	}
	if err != nil {
		return err
	}
	defer func() {
		// Gone after a successful rename; otherwise the restore failed.
		if tmp != nil {
			tmp.Close()
			os.Remove(tmp.Name())
		}
	}()
	// A corrupt file is planned around when another chain of files
	// reaches the same state; the warnings name what was left out.
	plan, err := r.PlanAround(ctx, files, target, nil, func(p replica.Plan) error {
		log.Info("restore plan", "replica", r.String(), "txid", p.TXID, "files", len(p.Files), "bytes", planBytes(p))
		return r.Restore(ctx, p, tmp, replica.RestoreOptions{Progress: progress.update})
	})
	progress.done()
	for _, w := range plan.Warnings {
		fmt.Fprintf(stderr, "strata restore: warning: %v\n", w)
	}
	if err == nil && rf.follow {
		if err = markFollowed(tmp, planCommit(tmp)); err == nil {
			err = tmp.Sync()
		}
	}
	if err != nil {
		if interruptedBy(ctx) != nil {
			fmt.Fprintf(stderr, "restore stopped: %s was not changed\n", rf.out)
		}
		return err
	}
	removed, err := out.install(tmp)
	if err != nil {
		return err
	}
	msg := fmt.Sprintf("restored TXID %s (%d files, %d bytes) to %s in %s", plan.TXID, len(plan.Files), planBytes(plan), rf.out, time.Since(start).Round(time.Millisecond))
	if len(removed) > 0 {
		msg += fmt.Sprintf("; removed the old database's %s", strings.Join(removed, ", "))
	}
	fmt.Fprintln(stderr, msg)
	log.Info("restored", "replica", r.String(), "txid", plan.TXID, "out", rf.out, "took", time.Since(start))
	if !rf.follow {
		tmp.Close()
		tmp = nil
		return nil
	}
	// The renamed temporary file is OUT itself: keep it open (see follower).
	f := tmp
	tmp = nil
	defer f.Close()
	ps, err := pageSizeOf(f)
	if err != nil {
		return err
	}
	fl := &follower{r: r, f: f, path: rf.out, txid: plan.TXID, pageSize: ps, log: log, stderr: stderr}
	fmt.Fprintf(stderr, "following %s every %s (Ctrl-C stops; %s stays a consistent database at every moment)\n", r, rf.followInterval, rf.out)
	err = fl.run(ctx, rf.followInterval)
	fmt.Fprintf(stderr, "stopped following at TXID %s\n", fl.txid)
	return err
}

// planCommit is the size in pages of a restored file.
func planCommit(f *os.File) uint32 {
	ps, err := pageSizeOf(f)
	st, serr := f.Stat()
	if err != nil || serr != nil || ps == 0 {
		return 0
	}
	return uint32(st.Size() / int64(ps))
}

func planBytes(plan replica.Plan) int64 {
	var n int64
	for _, f := range plan.Files {
		n += f.Size
	}
	return n
}

// printPlan prints what a restore would do: the files it would download,
// the TXID and size of the result, and what would happen to OUT.
func printPlan(ctx context.Context, w io.Writer, r *replica.Replica, plan replica.Plan, target replica.Target, rf restoreFlags) error {
	last, err := r.ParsedHeader(ctx, plan.Files[len(plan.Files)-1])
	if err != nil {
		return err
	}
	state := "latest"
	if !target.IsLatest() {
		state = target.String()
	}
	fmt.Fprintf(w, "replica:  %s\n", r)
	fmt.Fprintf(w, "state:    TXID %s (%s), committed %s\n", plan.TXID, state, time.UnixMilli(last.Timestamp).UTC().Format(time.RFC3339Nano))
	fmt.Fprintf(w, "database: %d pages of %d bytes (%d bytes)\n", last.Commit, last.PageSize, int64(last.Commit)*int64(last.PageSize))
	if rf.out != "" {
		found, err := output{path: rf.out}.existing()
		if err != nil {
			return err
		}
		switch {
		case len(found) == 0:
			fmt.Fprintf(w, "output:   %s (new)\n", rf.out)
		case rf.force:
			fmt.Fprintf(w, "output:   %s (replaces %s)\n", rf.out, strings.Join(found, ", "))
		default:
			fmt.Fprintf(w, "output:   %s (refused without -force: %s)\n", rf.out, existMsg(found))
		}
	}
	fmt.Fprintf(w, "download: %d files, %d bytes\n\n", len(plan.Files), planBytes(plan))
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tMIN_TXID\tMAX_TXID\tSIZE")
	for _, f := range plan.Files {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\n", f.Level, f.MinTXID, f.MaxTXID, f.Size)
	}
	return tw.Flush()
}

// cliLogger is the logger of the STRATA_LOG_LEVEL / STRATA_LOG_FILE
// variables (the VFS's), or one that discards.
func cliLogger() *slog.Logger {
	if cfg, err := vfs.ConfigFromEnv(); err == nil && cfg.Logger != nil {
		return cfg.Logger
	}
	return slog.New(slog.DiscardHandler)
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
		p.shown = false
	}
}
