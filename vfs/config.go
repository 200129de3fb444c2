package vfs

import (
	"fmt"
	"io"
	"log/slog"
	"math"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/engine"
)

// Config is the process-wide configuration of the strata VFS. URI
// parameters of a connection override it for that replica.
type Config struct {
	// DefaultReplica is used when a connection names no replica= URI
	// parameter (STRATA_REPLICA_URL).
	DefaultReplica string
	// PollInterval is how often new LTX files are looked for
	// (STRATA_POLL_INTERVAL, default 1s).
	PollInterval time.Duration
	// CacheSize bounds the page cache of each replica in bytes
	// (STRATA_CACHE_SIZE, default 64 MiB; suffixes KiB/MiB/GiB or K/M/G).
	CacheSize int64
	// Logger receives the VFS's logs; nil discards them.
	Logger *slog.Logger
	// ManageMemory sets Go's soft memory limit to the page caches of the
	// open replicas plus 40 MiB (unless GOMEMLIMIT is set), so that the
	// process stays within its cache size plus 64 MiB. For programs that own their
	// process: the strata command and the extension turn it on.
	ManageMemory bool
	// Write lets connections write replicas without asking with write=1
	// (STRATA_WRITE=1). A connection can still say write=0.
	Write bool
	// Sync is when a COMMIT returns (STRATA_SYNC, URI sync=): 0, or
	// "commit", after its LTX file is stored; a duration, after it is
	// fsynced to the local write buffer, with the pending commits stored
	// together at that interval (group commit).
	Sync time.Duration
	// Compaction configures the compactor that runs beside a writer
	// (STRATA_COMPACT_LEVELS, STRATA_SNAPSHOT_INTERVAL,
	// STRATA_SNAPSHOT_RETENTION, STRATA_L0_RETENTION; zero fields get
	// Litestream's defaults). NoCompaction turns it off (STRATA_COMPACT=0;
	// a connection can say compact=0 or compact=1).
	Compaction   compact.Config
	NoCompaction bool
	// BufferDir holds the local write buffers (STRATA_BUFFER_DIR; default
	// $XDG_STATE_HOME/strata or ~/.local/state/strata), and the hydrated
	// files of hydrate=1, under BufferDir/hydrated.
	BufferDir string
	// Hydrate keeps a local copy of every replica opened (STRATA_HYDRATE,
	// URI hydrate=): "1" for a file per replica under BufferDir/hydrated,
	// or the path of the file (then for one replica only: a file holds one
	// replica). Empty or "0": off, unless a connection asks.
	Hydrate string
	// Default makes strata the process's default VFS (STRATA_DEFAULT_VFS=1),
	// for clients that cannot pass vfs=strata in a URI (better-sqlite3 is
	// built without URI filenames): every database they open is then a
	// replica, named by STRATA_REPLICA_URL.
	Default bool
}

// Defaults for Config fields left zero.
const (
	DefaultPollInterval = engine.DefaultPollInterval
	DefaultCacheSize    = engine.DefaultCacheSize
)

func (c Config) withDefaults() Config {
	if c.PollInterval <= 0 {
		c.PollInterval = DefaultPollInterval
	}
	if c.CacheSize <= 0 {
		c.CacheSize = DefaultCacheSize
	}
	if c.BufferDir == "" {
		c.BufferDir = defaultBufferDir()
	}
	if c.Logger == nil {
		c.Logger = slog.New(slog.NewTextHandler(io.Discard, nil))
	}
	return c
}

// ConfigFromEnv is the configuration of a process that strata owns (the
// command, the extension): ManageMemory on, and STRATA_REPLICA_URL, STRATA_DEFAULT_VFS, STRATA_POLL_INTERVAL,
// STRATA_CACHE_SIZE, STRATA_WRITE, STRATA_SYNC, STRATA_BUFFER_DIR,
// STRATA_HYDRATE, STRATA_LOG_LEVEL and STRATA_LOG_FILE. Logs go to
// STRATA_LOG_FILE, or to stderr when only a level is set; never to stdout.
func ConfigFromEnv() (Config, error) {
	c := Config{ManageMemory: true}
	var err error
	c.DefaultReplica = os.Getenv("STRATA_REPLICA_URL")
	if v := os.Getenv("STRATA_DEFAULT_VFS"); v != "" {
		if c.Default, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("STRATA_DEFAULT_VFS=%q: want 1 or 0", v)
		}
	}
	if v := os.Getenv("STRATA_POLL_INTERVAL"); v != "" {
		if c.PollInterval, err = time.ParseDuration(v); err != nil || c.PollInterval <= 0 {
			return c, fmt.Errorf("STRATA_POLL_INTERVAL=%q: want a positive duration such as 1s or 500ms", v)
		}
	}
	if v := os.Getenv("STRATA_CACHE_SIZE"); v != "" {
		if c.CacheSize, err = ParseSize(v); err != nil {
			return c, fmt.Errorf("STRATA_CACHE_SIZE=%q: %w", v, err)
		}
	}
	if v := os.Getenv("STRATA_WRITE"); v != "" {
		if c.Write, err = strconv.ParseBool(v); err != nil {
			return c, fmt.Errorf("STRATA_WRITE=%q: want 1 or 0", v)
		}
	}
	if v := os.Getenv("STRATA_SYNC"); v != "" {
		if c.Sync, err = ParseSync(v); err != nil {
			return c, fmt.Errorf("STRATA_SYNC: %w", err)
		}
	}
	c.BufferDir = os.Getenv("STRATA_BUFFER_DIR")
	if v := os.Getenv("STRATA_COMPACT"); v != "" {
		on, err := strconv.ParseBool(v)
		if err != nil {
			return c, fmt.Errorf("STRATA_COMPACT=%q: want 1 or 0", v)
		}
		c.NoCompaction = !on
	}
	if c.Compaction, err = compact.ConfigFromEnv(); err != nil {
		return c, err
	}
	c.Hydrate = os.Getenv("STRATA_HYDRATE")
	c.Logger, err = loggerFromEnv(os.Getenv("STRATA_LOG_LEVEL"), os.Getenv("STRATA_LOG_FILE"))
	return c, err
}

// ParseSync reads a durability mode: "commit" (0: every COMMIT is stored
// before it returns) or a positive duration such as 1s (group commit).
func ParseSync(s string) (time.Duration, error) {
	if strings.EqualFold(strings.TrimSpace(s), "commit") {
		return 0, nil
	}
	d, err := time.ParseDuration(s)
	if err != nil || d <= 0 {
		return 0, fmt.Errorf("sync=%q: want commit, or a positive duration such as 1s for group commit", s)
	}
	return d, nil
}

// defaultBufferDir is where write buffers live unless configured:
// $XDG_STATE_HOME/strata, else ~/.local/state/strata, else the temp dir.
func defaultBufferDir() string {
	if d := os.Getenv("XDG_STATE_HOME"); d != "" {
		return filepath.Join(d, "strata")
	}
	if home, err := os.UserHomeDir(); err == nil {
		return filepath.Join(home, ".local", "state", "strata")
	}
	return filepath.Join(os.TempDir(), "strata-state")
}

func loggerFromEnv(level, file string) (*slog.Logger, error) {
	if level == "" && file == "" {
		return nil, nil
	}
	var lv slog.Level
	if level == "" {
		level = "info"
	}
	if err := lv.UnmarshalText([]byte(level)); err != nil {
		return nil, fmt.Errorf("STRATA_LOG_LEVEL=%q: want debug, info, warn or error", level)
	}
	w := io.Writer(os.Stderr)
	if file != "" {
		f, err := os.OpenFile(file, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o644)
		if err != nil {
			return nil, fmt.Errorf("STRATA_LOG_FILE=%q: %w", file, err)
		}
		w = f
	}
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{Level: lv})), nil
}

// ParseSize parses a byte count such as 67108864, 64MiB, 64M or 1GiB.
func ParseSize(s string) (int64, error) {
	t := strings.TrimSpace(strings.ToUpper(s))
	mult := int64(1)
	for _, u := range []struct {
		suffix string
		mult   int64
	}{{"GIB", 1 << 30}, {"MIB", 1 << 20}, {"KIB", 1 << 10}, {"GB", 1 << 30}, {"MB", 1 << 20}, {"KB", 1 << 10}, {"G", 1 << 30}, {"M", 1 << 20}, {"K", 1 << 10}, {"B", 1}} {
		if strings.HasSuffix(t, u.suffix) {
			t, mult = strings.TrimSpace(strings.TrimSuffix(t, u.suffix)), u.mult
			break
		}
	}
	n, err := strconv.ParseInt(t, 10, 64)
	if err != nil || n <= 0 || n > math.MaxInt64/mult {
		return 0, fmt.Errorf("invalid size %q: want a positive number of bytes, optionally with KiB, MiB or GiB", s)
	}
	return n * mult, nil
}
