package compact

import (
	"fmt"
	"log/slog"
	"os"
	"strings"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
)

// Config says when a Compactor merges, snapshots and deletes. Zero fields
// get Litestream 0.5's defaults.
type Config struct {
	// Levels are the compaction intervals of levels 1, 2, ...: at each
	// multiple of its interval (UTC), level N takes in what the levels
	// below it hold. At most 8 levels. Default 30s, 5m, 1h.
	Levels []time.Duration
	// SnapshotInterval is how often a full snapshot is written to level 9
	// (at multiples of it, UTC). Default 24h; negative: never on schedule.
	SnapshotInterval time.Duration
	// SnapshotRetention is how long snapshots are kept (the newest always
	// stays); the files of levels 1-8 that only lead up to a deleted
	// snapshot go with it. Default 24h; negative: keep everything.
	SnapshotRetention time.Duration
	// L0Retention is how long a level-0 file stays once a higher level
	// covers it. Default 5m; negative: keep level 0.
	L0Retention time.Duration
	// L0RetentionCheckInterval is how often Run applies the level-0
	// retention besides after each level-1 compaction. Default 15s.
	L0RetentionCheckInterval time.Duration
	// Merge tunes the merges: temporary directory and memory budget.
	Merge replica.CompactOptions
	// Logger receives what Run does (info) and the problems it skips
	// (warn). Default: no logs.
	Logger *slog.Logger
	// Now is the clock (default time.Now), for tests and simulations.
	Now func() time.Time
	// OnPass, when set, is called by Run after each pass with its report.
	OnPass func(Report)
}

// Litestream 0.5's defaults.
var (
	DefaultLevels = []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour}
)

const (
	DefaultSnapshotInterval         = 24 * time.Hour
	DefaultSnapshotRetention        = 24 * time.Hour
	DefaultL0Retention              = 5 * time.Minute
	DefaultL0RetentionCheckInterval = 15 * time.Second
)

// maxLevels: levels 1 to 8; 9 holds snapshots.
const maxLevels = storage.SnapshotLevel - 1

// Environment variables read by ConfigFromEnv.
const (
	EnvLevels            = "STRATA_COMPACT_LEVELS"
	EnvSnapshotInterval  = "STRATA_SNAPSHOT_INTERVAL"
	EnvSnapshotRetention = "STRATA_SNAPSHOT_RETENTION"
	EnvL0Retention       = "STRATA_L0_RETENTION"
)

// WithDefaults is c with its zero fields set to the defaults.
func (c Config) WithDefaults() Config {
	if len(c.Levels) == 0 {
		c.Levels = append([]time.Duration(nil), DefaultLevels...)
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = DefaultSnapshotInterval
	}
	if c.SnapshotRetention == 0 {
		c.SnapshotRetention = DefaultSnapshotRetention
	}
	if c.L0Retention == 0 {
		c.L0Retention = DefaultL0Retention
	}
	if c.L0RetentionCheckInterval <= 0 {
		c.L0RetentionCheckInterval = DefaultL0RetentionCheckInterval
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.DiscardHandler)
	}
	if c.Now == nil {
		c.Now = time.Now
	}
	return c
}

// Validate reports a configuration that cannot work.
func (c Config) Validate() error {
	if len(c.Levels) > maxLevels {
		return fmt.Errorf("compaction: %d levels, at most %d (level 9 holds snapshots)", len(c.Levels), maxLevels)
	}
	for i, d := range c.Levels {
		if d <= 0 {
			return fmt.Errorf("compaction: level %d interval %s must be positive", i+1, d)
		}
	}
	return nil
}

// ParseLevels reads level intervals written as STRATA_COMPACT_LEVELS takes
// them: durations separated by commas, level 1 first ("30s,5m,1h").
func ParseLevels(s string) ([]time.Duration, error) {
	var out []time.Duration
	for i, part := range strings.Split(s, ",") {
		d, err := time.ParseDuration(strings.TrimSpace(part))
		if err != nil || d <= 0 {
			return nil, fmt.Errorf("compaction levels %q: level %d: want a positive duration such as 30s, 5m or 1h", s, i+1)
		}
		out = append(out, d)
	}
	if len(out) > maxLevels {
		return nil, fmt.Errorf("compaction levels %q: %d levels, at most %d", s, len(out), maxLevels)
	}
	return out, nil
}

// FormatLevels writes intervals as ParseLevels reads them.
func FormatLevels(levels []time.Duration) string {
	parts := make([]string, len(levels))
	for i, d := range levels {
		parts[i] = shortDuration(d)
	}
	return strings.Join(parts, ",")
}

// shortDuration writes 5m rather than 5m0s.
func shortDuration(d time.Duration) string {
	s := d.String()
	if strings.HasSuffix(s, "m0s") {
		s = strings.TrimSuffix(s, "0s")
	}
	if strings.HasSuffix(s, "h0m") {
		s = strings.TrimSuffix(s, "0m")
	}
	return s
}

// Param names of Set, for URI parameters and flags.
const (
	ParamLevels            = "compact_levels"
	ParamSnapshotInterval  = "snapshot_interval"
	ParamSnapshotRetention = "snapshot_retention"
	ParamL0Retention       = "l0_retention"
)

// Set sets one setting by name (ParamLevels, ParamSnapshotInterval,
// ParamSnapshotRetention, ParamL0Retention), for configuration from URI
// parameters; durations as time.ParseDuration reads them.
func (c *Config) Set(name, value string) error {
	if name == ParamLevels {
		levels, err := ParseLevels(value)
		if err != nil {
			return err
		}
		c.Levels = levels
		return nil
	}
	var field *time.Duration
	switch name {
	case ParamSnapshotInterval:
		field = &c.SnapshotInterval
	case ParamSnapshotRetention:
		field = &c.SnapshotRetention
	case ParamL0Retention:
		field = &c.L0Retention
	default:
		return fmt.Errorf("compaction: unknown setting %q", name)
	}
	d, err := time.ParseDuration(value)
	if err != nil {
		return fmt.Errorf("compaction: %s=%q: want a duration such as 30s, 5m or 24h", name, value)
	}
	*field = d
	return nil
}

// ConfigFromEnv is the zero Config with what the environment sets:
// STRATA_COMPACT_LEVELS ("30s,5m,1h"), STRATA_SNAPSHOT_INTERVAL,
// STRATA_SNAPSHOT_RETENTION and STRATA_L0_RETENTION (durations).
func ConfigFromEnv() (Config, error) {
	var c Config
	for env, name := range map[string]string{
		EnvLevels:            ParamLevels,
		EnvSnapshotInterval:  ParamSnapshotInterval,
		EnvSnapshotRetention: ParamSnapshotRetention,
		EnvL0Retention:       ParamL0Retention,
	} {
		if v := os.Getenv(env); v != "" {
			if err := c.Set(name, v); err != nil {
				return c, fmt.Errorf("%s: %w", env, err)
			}
		}
	}
	return c, c.Validate()
}

// settle is how long after a boundary a level runs: uploads of commits
// made just before the boundary have landed by then, so that compactors
// in several processes see the same files and choose the same output.
func settle(interval time.Duration) time.Duration {
	return min(max(interval/4, 50*time.Millisecond), 5*time.Second)
}

// boundary is the end of the last whole interval a run at now may compact:
// commits before it are taken in, later ones wait for the next run.
func boundary(now time.Time, interval time.Duration) time.Time {
	return now.Add(-settle(interval)).Truncate(interval)
}

// nextRun is when the next interval after now closes and settles.
func nextRun(now time.Time, interval time.Duration) time.Time {
	return boundary(now, interval).Add(interval + settle(interval))
}
