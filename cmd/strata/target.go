package main

import (
	"context"
	"flag"
	"fmt"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
	"github.com/strata-db/strata/vfs"
)

func openReplica(ctx context.Context, url string) (*replica.Replica, error) {
	store, err := backends.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return replica.New(store), nil
}

// targetFlags are the -txid and -timestamp flags that choose a past state.
type targetFlags struct{ txid, timestamp string }

func (t *targetFlags) register(fs *flag.FlagSet, verb string) {
	fs.StringVar(&t.txid, "txid", "", verb+" the state after this `TXID` (decimal, 0x-prefixed hex or 16 hex digits)")
	fs.StringVar(&t.timestamp, "timestamp", "", verb+" the state at this `time`: RFC 3339 (fractional seconds allowed), "+
		"'YYYY-MM-DD HH:MM:SS' (UTC), or relative ('5 minutes ago')")
}

// target checks the flags; a bad value is a usage error that names it.
func (t targetFlags) target() (replica.Target, error) {
	tg := replica.Latest()
	if t.txid != "" && t.timestamp != "" {
		return tg, fmt.Errorf("%w: -txid and -timestamp cannot be used together", errUsage)
	}
	if t.txid != "" {
		id, err := replica.ParseTXID(t.txid)
		if err != nil {
			return tg, fmt.Errorf("%w: -txid: %v", errUsage, err)
		}
		tg = replica.AtTXID(id)
	}
	if t.timestamp != "" {
		ts, latest, err := vfs.ParseTime(t.timestamp, time.Now())
		if err != nil {
			return tg, fmt.Errorf("%w: -timestamp: %v", errUsage, err)
		}
		if !latest {
			tg = replica.AtTime(ts)
		}
	}
	return tg, nil
}

// uriParams are a target as URI parameters of the strata VFS.
func uriParams(tg replica.Target) []string {
	if id, ok := tg.TXID(); ok {
		return []string{"txid", id.String()}
	}
	if ts, ok := tg.Time(); ok {
		return []string{"time", ts.UTC().Format(time.RFC3339Nano)}
	}
	return nil
}
