package replica

import (
	"context"
	"errors"
	"fmt"
	"sort"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Target names the state to open: a TXID, a moment, or (zero) the latest.
type Target struct {
	TXID ltx.TXID
	Time time.Time
}

// IsLatest reports whether t asks for the newest state.
func (t Target) IsLatest() bool { return t.TXID == 0 && t.Time.IsZero() }

func (t Target) String() string {
	switch {
	case t.TXID != 0:
		return "TXID " + t.TXID.String()
	case !t.Time.IsZero():
		return t.Time.UTC().Format(time.RFC3339Nano)
	default:
		return "latest"
	}
}

// ErrBeforeFirst is matched by errors for times before the first commit.
var ErrBeforeFirst = errors.New("before the first transaction")

// Plan lists the replica and builds the restore plan for t.
func (r *Replica) Plan(ctx context.Context, t Target) (Plan, error) {
	files, err := r.Files(ctx)
	if err != nil {
		return Plan{}, err
	}
	return r.PlanFiles(ctx, files, t)
}

// PlanFiles builds the restore plan for t from an existing listing.
func (r *Replica) PlanFiles(ctx context.Context, files []storage.FileInfo, t Target) (Plan, error) {
	if len(files) == 0 {
		return Plan{}, fmt.Errorf("%s: %w", r.Store, ErrEmpty)
	}
	txid := t.TXID
	if !t.Time.IsZero() {
		var err error
		if txid, err = r.TXIDAt(ctx, files, t.Time); err != nil {
			return Plan{}, err
		}
	}
	p, err := BuildPlan(files, txid)
	if err != nil {
		return Plan{}, fmt.Errorf("%s: %s: %w", r.Store, t, err)
	}
	return p, nil
}

// TXIDAt is the last TXID committed at or before ts. Commit times grow
// with TXIDs, so a binary search reads only a few headers.
func (r *Replica) TXIDAt(ctx context.Context, files []storage.FileInfo, ts time.Time) (ltx.TXID, error) {
	ends := endpoints(files)
	var searchErr error
	i := sort.Search(len(ends), func(i int) bool {
		if searchErr != nil {
			return true
		}
		h, err := r.ParsedHeader(ctx, ends[i])
		if err != nil {
			searchErr = err
			return true
		}
		return time.UnixMilli(h.Timestamp).After(ts)
	})
	if searchErr != nil {
		return 0, searchErr
	}
	if i == 0 {
		first, err := r.ParsedHeader(ctx, ends[0])
		if err != nil {
			return 0, err
		}
		return 0, fmt.Errorf("%s: timestamp %s is %w (TXID %s, committed %s)", r.Store,
			ts.UTC().Format(time.RFC3339Nano), ErrBeforeFirst, ends[0].MaxTXID,
			time.UnixMilli(first.Timestamp).UTC().Format(time.RFC3339Nano))
	}
	return ends[i-1].MaxTXID, nil
}

// endpoints returns one file per distinct MaxTXID, in TXID order,
// preferring the lowest level: level-0 files carry the commit's own time.
func endpoints(files []storage.FileInfo) []storage.FileInfo {
	byEnd := make(map[ltx.TXID]storage.FileInfo)
	for _, f := range files {
		if cur, ok := byEnd[f.MaxTXID]; !ok || f.Level < cur.Level {
			byEnd[f.MaxTXID] = f
		}
	}
	out := make([]storage.FileInfo, 0, len(byEnd))
	for _, f := range byEnd {
		out = append(out, f)
	}
	sort.Slice(out, func(i, j int) bool { return out[i].MaxTXID < out[j].MaxTXID })
	return out
}

// ParseTXID accepts 16 hex digits (as in file names), 0x-prefixed hex, or
// a decimal number.
func ParseTXID(s string) (ltx.TXID, error) {
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
