package vfs

import (
	"fmt"
	"time"

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
}

func parseParams(raw map[string]string, cfg Config) (params, error) {
	p := params{replica: raw["replica"]}
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
