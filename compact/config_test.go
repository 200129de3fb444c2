package compact_test

import (
	"slices"
	"testing"
	"time"

	"github.com/strata-db/strata/compact"
)

// Levels are written as STRATA_COMPACT_LEVELS takes them; anything else is
// refused with a message that names the value.
func TestParseLevels(t *testing.T) {
	for in, want := range map[string][]time.Duration{
		"30s,5m,1h":               {30 * time.Second, 5 * time.Minute, time.Hour},
		"200ms, 1s , 3s":          {200 * time.Millisecond, time.Second, 3 * time.Second},
		"10s":                     {10 * time.Second},
		"1s,2s,3s,4s,5s,6s,7s,8s": {1 * time.Second, 2 * time.Second, 3 * time.Second, 4 * time.Second, 5 * time.Second, 6 * time.Second, 7 * time.Second, 8 * time.Second},
	} {
		got, err := compact.ParseLevels(in)
		if err != nil || !slices.Equal(got, want) {
			t.Errorf("ParseLevels(%q) = %v, %v; want %v", in, got, err, want)
		}
		if back, _ := compact.ParseLevels(compact.FormatLevels(got)); !slices.Equal(back, want) {
			t.Errorf("FormatLevels(%v) does not read back", got)
		}
	}
	for _, in := range []string{"", "30s,,1h", "5", "-1s", "0s", "1s,2s,3s,4s,5s,6s,7s,8s,9s", "fast"} {
		if _, err := compact.ParseLevels(in); err == nil {
			t.Errorf("ParseLevels(%q): no error", in)
		}
	}
}

// The environment configures what the zero Config leaves to defaults.
func TestConfigFromEnv(t *testing.T) {
	t.Setenv(compact.EnvLevels, "200ms,1s,3s")
	t.Setenv(compact.EnvSnapshotInterval, "10s")
	t.Setenv(compact.EnvSnapshotRetention, "30s")
	t.Setenv(compact.EnvL0Retention, "-1s")
	cfg, err := compact.ConfigFromEnv()
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Equal(cfg.Levels, []time.Duration{200 * time.Millisecond, time.Second, 3 * time.Second}) ||
		cfg.SnapshotInterval != 10*time.Second || cfg.SnapshotRetention != 30*time.Second || cfg.L0Retention != -time.Second {
		t.Errorf("config %+v", cfg)
	}
	t.Setenv(compact.EnvSnapshotInterval, "daily")
	if _, err := compact.ConfigFromEnv(); err == nil {
		t.Error("a bad STRATA_SNAPSHOT_INTERVAL was accepted")
	}
	var c compact.Config
	if err := c.Set("compaction", "1s"); err == nil {
		t.Error("an unknown setting was accepted")
	}
}

// Zero fields get Litestream 0.5's defaults.
func TestDefaults(t *testing.T) {
	cfg := compact.Config{}.WithDefaults()
	if !slices.Equal(cfg.Levels, []time.Duration{30 * time.Second, 5 * time.Minute, time.Hour}) ||
		cfg.SnapshotInterval != 24*time.Hour || cfg.SnapshotRetention != 24*time.Hour ||
		cfg.L0Retention != 5*time.Minute || cfg.L0RetentionCheckInterval != 15*time.Second {
		t.Errorf("defaults %+v", cfg)
	}
}
