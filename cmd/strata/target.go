package main

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/backends"
	"github.com/superfly/ltx"
)

func openReplica(ctx context.Context, url string) (*replica.Replica, error) {
	store, err := backends.Open(ctx, url)
	if err != nil {
		return nil, err
	}
	return replica.New(store), nil
}

// parseTXID accepts the 16-hex-digit form used in file names, 0x-prefixed
// hex, or a decimal number.
func parseTXID(s string) (ltx.TXID, error) {
	var v uint64
	var err error
	switch {
	case len(s) == 16:
		v, err = strconv.ParseUint(s, 16, 64)
	case strings.HasPrefix(s, "0x"):
		v, err = strconv.ParseUint(s[2:], 16, 64)
	default:
		v, err = strconv.ParseUint(s, 10, 64)
	}
	if err != nil || v == 0 {
		return 0, fmt.Errorf("invalid TXID %q: want a positive decimal number, 0x-prefixed hex or 16 hex digits", s)
	}
	return ltx.TXID(v), nil
}

// parseTarget turns -txid and -timestamp flag values into a Target.
func parseTarget(txid, timestamp string) (replica.Target, error) {
	var t replica.Target
	if txid != "" && timestamp != "" {
		return t, fmt.Errorf("%w: -txid and -timestamp cannot be used together", errUsage)
	}
	if txid != "" {
		id, err := parseTXID(txid)
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
