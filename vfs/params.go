package vfs

import (
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"path/filepath"
	"strconv"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
)

// params are a connection's URI parameters after validation.
type params struct {
	replica      string
	key          string // the replica's canonical URL: one state per key
	wait         time.Duration
	pollInterval time.Duration
	cacheSize    int64
	target       replica.Target
	write        bool            // the connection may write
	sync         time.Duration   // 0: a commit is stored before it returns
	buffer       string          // the write buffer's directory
	readOnly     bool            // mode=ro: SQLite was told the file is read-only
	hydrate      string          // the hydrated file's path; "" when not asked for
	compaction   *compact.Config // the writer's compactor; nil: none
}

func parseParams(raw map[string]string, cfg Config) (params, error) {
	p := params{replica: raw["replica"], write: cfg.Write, sync: cfg.Sync, readOnly: raw["mode"] == "ro"}
	if p.replica == "" {
		p.replica = cfg.DefaultReplica
	}
	if p.replica == "" {
		return p, fmt.Errorf("no replica: add replica=URL to the URI or set STRATA_REPLICA_URL")
	}
	var err error
	if p.key, err = backends.Canonical(p.replica); err != nil {
		return p, err
	}
	if v, ok := raw["wait"]; ok {
		if p.wait, err = time.ParseDuration(v); err != nil || p.wait < 0 {
			return p, fmt.Errorf("URI parameter wait=%q: want a duration such as 30s", v)
		}
	}
	if v, ok := raw["poll_interval"]; ok {
		if p.pollInterval, err = time.ParseDuration(v); err != nil || p.pollInterval <= 0 {
			return p, fmt.Errorf("URI parameter poll_interval=%q: want a positive duration such as 1s", v)
		}
	}
	if v, ok := raw["cache_size"]; ok {
		if p.cacheSize, err = ParseSize(v); err != nil {
			return p, fmt.Errorf("URI parameter cache_size: %w", err)
		}
	}
	if v, ok := raw["write"]; ok {
		if p.write, err = strconv.ParseBool(v); err != nil {
			return p, fmt.Errorf("URI parameter write=%q: want 1 or 0", v)
		}
	}
	if v, ok := raw["sync"]; ok {
		if p.sync, err = ParseSync(v); err != nil {
			return p, fmt.Errorf("URI parameter %w", err)
		}
	}
	p.buffer = filepath.Join(cfg.BufferDir, "buffers", bufferName(p.key))
	if v, ok := raw["buffer"]; ok {
		if v == "" {
			return p, fmt.Errorf("URI parameter buffer is empty: want a directory for the write buffer")
		}
		p.buffer = v
	}
	hydrate := cfg.Hydrate
	if v, ok := raw["hydrate"]; ok {
		if v == "" {
			return p, fmt.Errorf("URI parameter hydrate is empty: want 1 (a file per replica in the state directory), 0, or the path of the hydrated file")
		}
		hydrate = v
	}
	switch hydrate {
	case "", "0", "false", "off":
	case "1", "true", "on":
		p.hydrate = filepath.Join(cfg.BufferDir, "hydrated", bufferName(p.key)+".db")
	default:
		p.hydrate = hydrate
	}
	if err := p.parseCompaction(raw, cfg); err != nil {
		return p, err
	}
	if v, ok := raw["txid"]; ok {
		id, err := replica.ParseTXID(v)
		if err != nil {
			return p, fmt.Errorf("URI parameter txid: %w", err)
		}
		p.target = replica.AtTXID(id)
	}
	if _, ok := raw["time"]; ok && !p.target.IsLatest() {
		return p, fmt.Errorf("URI parameters txid and time cannot be used together")
	}
	if v, ok := raw["time"]; ok {
		t, latest, err := ParseTime(v, time.Now())
		if err != nil {
			return p, fmt.Errorf("URI parameter time: %w", err)
		}
		if !latest {
			p.target = replica.AtTime(t)
		}
	}
	return p, nil
}

// bufferName is the directory name of a replica's default write buffer:
// a digest of its canonical URL, so that every spelling of the URL finds
// the same buffer.
func bufferName(key string) string {
	sum := sha256.Sum256([]byte(key))
	return hex.EncodeToString(sum[:12])
}

// parseCompaction reads compact= (on by default with writes, unless
// Config.NoCompaction) and the compactor's settings, which override
// Config.Compaction.
func (p *params) parseCompaction(raw map[string]string, cfg Config) error {
	on := !cfg.NoCompaction
	if v, ok := raw["compact"]; ok {
		var err error
		if on, err = strconv.ParseBool(v); err != nil {
			return fmt.Errorf("URI parameter compact=%q: want 1 or 0", v)
		}
	}
	c := cfg.Compaction
	for _, name := range []string{compact.ParamLevels, compact.ParamSnapshotInterval, compact.ParamSnapshotRetention, compact.ParamL0Retention} {
		if v, ok := raw[name]; ok {
			if err := c.Set(name, v); err != nil {
				return fmt.Errorf("URI parameter %w", err)
			}
		}
	}
	if err := c.Validate(); err != nil {
		return fmt.Errorf("URI parameters of compaction: %w", err)
	}
	if on && p.write {
		p.compaction = &c
	}
	return nil
}
