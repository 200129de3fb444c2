package replica

import (
	"context"
	"errors"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// Target names the state to open: the latest, a TXID, or a moment. Build
// one with Latest, AtTXID or AtTime. The zero Target is Latest(); any time,
// the zero time.Time included, given to AtTime is a moment like any other
// (year 1 is before every commit), never "latest".
type Target struct {
	kind targetKind
	txid ltx.TXID
	time time.Time
}

type targetKind uint8

const (
	targetLatest targetKind = iota
	targetTXID
	targetTime
)

// Latest is the newest state of the replica.
func Latest() Target { return Target{} }

// AtTXID is the state right after transaction txid.
func AtTXID(txid ltx.TXID) Target { return Target{kind: targetTXID, txid: txid} }

// AtTime is the state as of t: the last transaction committed at or
// before t (see Replica.TXIDAt).
func AtTime(t time.Time) Target { return Target{kind: targetTime, time: t} }

// IsLatest reports whether t asks for the newest state.
func (t Target) IsLatest() bool { return t.kind == targetLatest }

// TXID is the TXID asked for, if t names one.
func (t Target) TXID() (ltx.TXID, bool) { return t.txid, t.kind == targetTXID }

// Time is the moment asked for, if t names one.
func (t Target) Time() (time.Time, bool) { return t.time, t.kind == targetTime }

func (t Target) String() string {
	switch t.kind {
	case targetTXID:
		return "TXID " + t.txid.String()
	case targetTime:
		return t.time.UTC().Format(time.RFC3339Nano)
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

// PlanFiles builds the restore plan for t from an existing listing. A
// time target carries the warnings of TXIDAt in Plan.Warnings.
func (r *Replica) PlanFiles(ctx context.Context, files []storage.FileInfo, t Target) (Plan, error) {
	if len(files) == 0 {
		return Plan{}, fmt.Errorf("%s: %w", r.Store, ErrEmpty)
	}
	var txid ltx.TXID // 0: the latest
	var warnings []error
	switch t.kind {
	case targetTXID:
		if t.txid == 0 {
			return Plan{}, fmt.Errorf("%s: %w: TXID 0 names no state (TXIDs start at 1)", r.Store, ErrUnreachable)
		}
		txid = t.txid
	case targetTime:
		m, err := r.TXIDAt(ctx, files, t.time)
		if err != nil {
			return Plan{}, err
		}
		txid, warnings = m.TXID, m.Warnings
	}
	p, err := BuildPlan(files, txid)
	if err != nil {
		return Plan{}, fmt.Errorf("%s: %s: %w", r.Store, t, err)
	}
	p.Warnings = append(warnings, p.Warnings...)
	return p, nil
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
