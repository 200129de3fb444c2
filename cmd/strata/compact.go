package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/storage"
)

// compactFlags are the schedule and retention flags of `strata compact`;
// their defaults come from the STRATA_* environment variables.
type compactFlags struct {
	levels                      string
	snapInterval, snapRetention time.Duration
	l0Retention                 time.Duration
}

func (f *compactFlags) register(fs *flag.FlagSet) error {
	cfg, err := compact.ConfigFromEnv()
	if err != nil {
		return fmt.Errorf("%w: %v", errUsage, err)
	}
	def := cfg.WithDefaults() // the environment over the defaults
	fs.StringVar(&f.levels, "levels", compact.FormatLevels(def.Levels),
		"compaction `intervals` of levels 1, 2, ... (env "+compact.EnvLevels+")")
	fs.DurationVar(&f.snapInterval, "snapshot-interval", def.SnapshotInterval,
		"write a snapshot after each multiple of this `duration`; negative: never (env "+compact.EnvSnapshotInterval+")")
	fs.DurationVar(&f.snapRetention, "snapshot-retention", def.SnapshotRetention,
		"delete snapshots older than this `duration`, the newest always stays; negative: never (env "+compact.EnvSnapshotRetention+")")
	fs.DurationVar(&f.l0Retention, "l0-retention", def.L0Retention,
		"delete level-0 files this `duration` after a higher level covers them; negative: never (env "+compact.EnvL0Retention+")")
	return nil
}

func (f *compactFlags) config() (compact.Config, error) {
	levels, err := compact.ParseLevels(f.levels)
	if err != nil {
		return compact.Config{}, fmt.Errorf("%w: -levels: %v", errUsage, err)
	}
	return compact.Config{
		Levels:            levels,
		SnapshotInterval:  f.snapInterval,
		SnapshotRetention: f.snapRetention,
		L0Retention:       f.l0Retention,
	}, nil
}

func runCompact(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("compact", "compact [-dry-run | -watch] [-levels 30s,5m,1h] [flags] URL", stderr)
	dry := fs.Bool("dry-run", false, "print what one pass would merge and delete, and change nothing")
	watch := fs.Bool("watch", false, "compact on schedule until interrupted (SIGINT, SIGTERM)")
	var cf compactFlags
	if err := cf.register(fs); err != nil {
		return err
	}
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if *dry && *watch {
		return fmt.Errorf("%w: -dry-run and -watch cannot be used together", errUsage)
	}
	cfg, err := cf.config()
	if err != nil {
		return err
	}
	if err := checkReplicaURL(pos[0]); err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[0])
	if err != nil {
		return err
	}
	if *watch {
		cfg.Logger = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelWarn}))
		cfg.OnPass = func(rep compact.Report) {
			if len(rep.Merges)+len(rep.Deleted) > 0 {
				fmt.Fprintf(stdout, "%s\n", rep.At.UTC().Format(time.RFC3339))
				rep.Print(stdout)
			}
		}
		c := compact.New(r, cfg)
		fmt.Fprintf(stderr, "compacting %s: levels %s, snapshots every %s kept %s, level 0 kept %s after compaction; Ctrl-C stops\n",
			r, compact.FormatLevels(c.Config().Levels), c.Config().SnapshotInterval, c.Config().SnapshotRetention, c.Config().L0Retention)
		return c.Run(ctx)
	}
	start := time.Now()
	rep, err := compact.New(r, cfg).Pass(ctx, compact.PassOptions{DryRun: *dry})
	rep.Print(stdout)
	if len(rep.Merges)+len(rep.Deleted)+len(rep.Kept)+len(rep.Problems) == 0 {
		fmt.Fprintf(stdout, "nothing to do\n")
	}
	fmt.Fprintf(stderr, "pass over %s took %s: %d merged, %d deleted\n", r, time.Since(start).Round(time.Millisecond), len(rep.Written()), len(rep.Deleted))
	if err != nil {
		return fmt.Errorf("%s: some work was skipped (see above): %w", r, err)
	}
	return nil
}

func runSnapshot(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("snapshot", "snapshot URL", stderr)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if err := checkReplicaURL(pos[0]); err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[0])
	if err != nil {
		return err
	}
	start := time.Now()
	f, err := compact.New(r, compact.Config{}).Snapshot(ctx)
	if errors.Is(err, storage.ErrExists) {
		fmt.Fprintf(stdout, "snapshot of TXID %s exists already: %s\n", f.MaxTXID, f)
		return nil
	}
	if err != nil {
		return err
	}
	fmt.Fprintf(stdout, "wrote snapshot %s (%s) of TXID %s in %s\n", f, compact.Bytes(f.Size), f.MaxTXID, time.Since(start).Round(time.Millisecond))
	return nil
}
