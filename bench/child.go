package bench

import (
	"context"
	"database/sql"
	"encoding/json"
	"fmt"
	"io"
	"time"

	"github.com/strata-db/strata/bench/proxy"
)

// childSpec is what the parent tells one cold run, on its stdin.
type childSpec struct {
	Scenario   string        `json:"scenario"`
	Opener     string        `json:"opener"`
	ReplicaURL string        `json:"replica_url"` // through the proxy
	ProxyURL   string        `json:"proxy_url"`   // for phase statistics
	LocalDB    string        `json:"local_db"`    // S4's plain SQLite file
	CacheBytes int64         `json:"cache_bytes"`
	Rows       int64         `json:"rows"` // row ids are 1..Rows
	Seed       uint64        `json:"seed"` // picks the rows looked up
	Duration   time.Duration `json:"duration_ns"`
	WriteMiB   int           `json:"write_mib,omitempty"` // W2's bulk insert
	Samples    int           `json:"samples,omitempty"`   // W3's commits
	// ChildArgs re-execute the binary for a process of the run's own
	// (W3's reader).
	ChildArgs []string `json:"child_args,omitempty"`
}

// phase is one measured part of a child run.
type phase struct {
	Name  string        `json:"name"`
	Wall  time.Duration `json:"wall_ns"`
	Stats proxy.Stats   `json:"stats"` // requests during the phase
	// Result is what the query returned, so a wrong answer shows.
	Result string `json:"result,omitempty"`
}

// childResult is what a child run prints as its last line of stdout.
type childResult struct {
	Phases []phase `json:"phases"`
	// Rates are operations per second (S4: "strata" and "local").
	Rates map[string]float64 `json:"rates,omitempty"`
	// HighWater is the child's own peak resident memory in bytes, read
	// at its end (0 where the system does not tell).
	HighWater int64 `json:"high_water,omitempty"`
}

// RunChild runs one cold scenario in this process: the spec comes from in,
// the result goes to out as one JSON line, with the child's own peak RSS.
func RunChild(ctx context.Context, cfg Config, in io.Reader, out io.Writer) error {
	var spec childSpec
	if err := json.NewDecoder(in).Decode(&spec); err != nil {
		return fmt.Errorf("bench child: read spec: %w", err)
	}
	open, ok := cfg.Openers[spec.Opener]
	if !ok {
		return fmt.Errorf("bench child: unknown opener %q", spec.Opener)
	}
	c := &child{spec: spec, open: open, openWrite: cfg.OpenWrite, hydrate: cfg.Hydrate, in: in, out: out}
	res, err := c.run(ctx)
	if err != nil {
		return fmt.Errorf("bench child %s: %w", spec.Scenario, err)
	}
	res.HighWater = highWater()
	return json.NewEncoder(out).Encode(res)
}

// child is the state of one child run.
type child struct {
	spec      childSpec
	open      OpenFunc
	openWrite WriteOpenFunc
	hydrate   HydrateFunc // the H scenarios' opener (hydrate.go)
	in        io.Reader   // what follows the spec on stdin (W3's reader: until EOF)
	out       io.Writer   // the child's stdout: the result, and W3's reader's lines
	db        *sql.DB
	conn      *sql.Conn
	res       childResult
}

func (c *child) run(ctx context.Context) (childResult, error) {
	defer c.close()
	scenario, ok := scenarios[c.spec.Scenario]
	if !ok {
		return c.res, fmt.Errorf("unknown scenario")
	}
	err := scenario(ctx, c)
	return c.res, err
}

func (c *child) close() {
	if c.conn != nil {
		c.conn.Close()
	}
	if c.db != nil {
		c.db.Close()
	}
}

// measure runs fn as the phase name, recording its wall time and the
// requests the proxy saw meanwhile.
func (c *child) measure(ctx context.Context, name string, fn func() (string, error)) error {
	before, err := proxy.FetchStats(ctx, c.spec.ProxyURL)
	if err != nil {
		return err
	}
	start := time.Now()
	result, err := fn()
	wall := time.Since(start)
	if err != nil {
		return fmt.Errorf("%s: %w", name, err)
	}
	after, err := proxy.FetchStats(ctx, c.spec.ProxyURL)
	if err != nil {
		return err
	}
	c.res.Phases = append(c.res.Phases, phase{Name: name, Wall: wall, Stats: after.Sub(before), Result: result})
	return nil
}

// openReplica opens the replica and reads the schema, as the phase
// "open": what any first query pays before it can touch a table.
func (c *child) openReplica(ctx context.Context) error {
	return c.measure(ctx, "open", func() (string, error) {
		db, err := c.open(c.spec.ReplicaURL, c.spec.CacheBytes)
		if err != nil {
			return "", err
		}
		c.db = db
		if c.conn, err = db.Conn(ctx); err != nil {
			return "", err
		}
		return queryString(ctx, c.conn, "SELECT count(*) FROM sqlite_master")
	})
}

// queryString runs a query returning one row and formats its columns.
func queryString(ctx context.Context, conn *sql.Conn, query string, args ...any) (string, error) {
	rows, err := conn.QueryContext(ctx, query, args...)
	if err != nil {
		return "", err
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return "", err
	}
	if !rows.Next() {
		if err := rows.Err(); err != nil {
			return "", err
		}
		return "", fmt.Errorf("no row")
	}
	vals := make([]any, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	if err := rows.Scan(ptrs...); err != nil {
		return "", err
	}
	return fmt.Sprint(vals...), rows.Close()
}
