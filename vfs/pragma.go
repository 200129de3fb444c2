package vfs

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"time"

	"github.com/psanford/sqlite3vfs"
	"github.com/strata-db/strata/replica"
)

// FileControl implements sqlite3vfs.FileController: the strata_* pragmas.
// Other pragmas are SQLite's own (NotFound hands them back).
func (f *file) FileControl(op int, name string, value *string) (*string, error) {
	name = strings.ToLower(name)
	res, err := f.pragma(name, value)
	if err == nil && res == "" && name == "strata_last_error" {
		return nil, nil // no error: NULL
	}
	if err == errNotOurs {
		return nil, sqlite3vfs.NotFoundError
	}
	if err != nil {
		f.vfs.cfg.Logger.Warn("pragma failed", "pragma", name, "err", err)
		f.setError(err)
		setPragmaError(err.Error())
		return nil, sqlite3vfs.GenericError
	}
	return &res, nil
}

var errNotOurs = fmt.Errorf("not a strata pragma")

func (f *file) pragma(name string, value *string) (string, error) {
	switch name {
	case "strata_time":
		if value != nil {
			return f.SetTime(*value)
		}
		return f.Time(), nil
	case "strata_txid":
		if value != nil {
			return "", fmt.Errorf("strata_txid is read-only; use PRAGMA strata_time or the txid= URI parameter to look at a past state")
		}
		return f.TXID(), nil
	case "strata_lag":
		if value != nil {
			return "", fmt.Errorf("strata_lag is read-only")
		}
		return f.Lag(), nil
	case "journal_mode":
		if value != nil {
			switch strings.ToLower(strings.Trim(*value, `'"`)) {
			case "wal":
				return "", fmt.Errorf("journal_mode=WAL is not supported on a strata replica: it keeps a rollback journal (new commits reach other readers through its LTX files)")
			case "off":
				if f.writable {
					return "", fmt.Errorf("journal_mode=OFF is refused on a writable strata replica: ROLLBACK would be undefined; use DELETE, TRUNCATE, PERSIST or MEMORY")
				}
			}
		}
		return "", errNotOurs
	case "strata_sync":
		if value != nil {
			return "", fmt.Errorf("strata_sync takes no value: PRAGMA strata_sync stores pending commits now and returns the TXID stored")
		}
		w := f.db.Writer()
		if w == nil {
			return f.db.Latest().TXID().String(), nil
		}
		ctx, cancel := context.WithTimeout(f.db.Context(), commitTimeout)
		defer cancel()
		txid, err := w.Sync(ctx)
		if err != nil {
			return "", err
		}
		return txid.String(), nil
	case "strata_hydration":
		if value != nil {
			return "", fmt.Errorf("strata_hydration is read-only: enable hydration with the hydrate= URI parameter or STRATA_HYDRATE")
		}
		return f.db.Hydration().JSON(), nil
	case "strata_hydration_progress":
		if value != nil {
			return "", fmt.Errorf("strata_hydration_progress is read-only")
		}
		return strconv.FormatFloat(f.db.Hydration().Percent, 'f', 1, 64), nil
	case "strata_last_error":
		if value != nil {
			return "", fmt.Errorf("strata_last_error is read-only")
		}
		if err := f.LastError(); err != nil {
			return err.Error(), nil
		}
		return "", nil
	}
	return "", errNotOurs
}

// Time is the moment the connection looks at: 'latest' when it follows new
// commits, else the requested time (RFC 3339) or the TXID it was opened at.
func (f *file) Time() string {
	f.mu.Lock()
	defer f.mu.Unlock()
	_, atTXID := f.target.TXID()
	switch ts, atTime := f.target.Time(); {
	case atTime:
		return ts.UTC().Format(time.RFC3339Nano)
	case atTXID && f.past != nil:
		return f.past.Time().Format(time.RFC3339Nano)
	default:
		return "latest"
	}
}

// SetTime moves the connection to a past moment, or back to 'latest'. It
// takes effect at the connection's next read transaction.
func (f *file) SetTime(value string) (string, error) {
	t, latest, err := ParseTime(value, time.Now())
	if err != nil {
		return "", fmt.Errorf("strata_time: %w", err)
	}
	target := replica.Latest()
	if !latest {
		target = replica.AtTime(t)
	}
	if err := f.travel(target); err != nil {
		return "", fmt.Errorf("strata_time = %q: %w", value, err)
	}
	return f.Time(), nil
}

// TXID is the TXID the connection views, as 16 hex digits.
func (f *file) TXID() string { return f.current().TXID().String() }

// Lag is the seconds since the replica's last successful poll, or -1.
func (f *file) Lag() string {
	d := f.db.Lag()
	if d < 0 {
		return "-1"
	}
	return strconv.FormatFloat(d.Seconds(), 'f', 3, 64)
}
