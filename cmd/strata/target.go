package main

import (
	"context"
	"fmt"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
)

func openReplica(ctx context.Context, url string) (*replica.Replica, error) {
	store, err := backends.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return replica.New(store), nil
}

// parseTarget turns -txid and -timestamp flag values into a Target.
func parseTarget(txid, timestamp string) (replica.Target, error) {
	var t replica.Target
	if txid != "" && timestamp != "" {
		return t, fmt.Errorf("%w: -txid and -timestamp cannot be used together", errUsage)
	}
	if txid != "" {
		id, err := replica.ParseTXID(txid)
		if err != nil {
			return t, fmt.Errorf("%w: -txid: %v", errUsage, err)
		}
		t.TXID = id
	}
	if timestamp != "" {
		ts, err := time.Parse(time.RFC3339Nano, timestamp)
		if err != nil {
			return t, fmt.Errorf("%w: -timestamp %q is not an RFC 3339 time (e.g. 2026-11-24T10:00:00.5Z)", errUsage, timestamp)
		}
		t.Time = ts
	}
	return t, nil
}
