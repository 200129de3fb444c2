package bench

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"
)

// The write scenarios. Each run writes a fresh, empty replica of its own
// through the proxy, in a child process (Config.OpenWrite opens it):
//
//   - W1: small single-row transactions, one after another, for a while:
//     commits per second, and the requests they cost by kind. W1-commit
//     in sync=commit (each COMMIT returns after its file is stored: one
//     conditional PUT per commit, no LIST on the commit path); W1-group
//     with sync=1s (COMMIT returns once fsynced locally; one PUT a second).
//   - W2: one transaction inserting 50 MiB: its time, requests, and the
//     writer's peak memory (the transaction's pages live on local disk).
//   - W3 (write_seen.go): how long after a COMMIT returns a reader in
//     another process sees it.
const (
	W1Commit = "W1-commit"
	W1Group  = "W1-group"
	W2Bulk   = "W2"
	W3Seen   = "W3"
)

// WriteScenarios lists the write scenarios in run order.
var WriteScenarios = []string{W1Commit, W1Group, W2Bulk, W3Seen}

func isWrite(s string) bool { return slices.Contains(WriteScenarios, s) || s == w3Reader }

// groupInterval is W1-group's sync interval.
const groupInterval = time.Second

// w2Cache is the page cache of W2's writer: its peak RSS is judged
// against it.
const w2Cache = 32 << 20

// writeSpec describes one run of write scenario s: a new replica under
// write/ in the bench bucket, reached through the proxy.
func (e *env) writeSpec(s string, repeat int, sz sizes) childSpec {
	url, err := viaProxy(e.srv.URL(e.bucket, fmt.Sprintf("write/%s-%d", s, repeat+1)), e.px.URL())
	if err != nil {
		url = "" // the child reports it
	}
	spec := childSpec{
		Scenario: s, Opener: e.cfg.Opener, ReplicaURL: url, ProxyURL: e.px.URL(),
		CacheBytes: e.defaultCache(), Seed: uint64(repeat + 1), Duration: sz.W1Duration,
		Samples: sz.W3Samples, ChildArgs: e.cfg.ChildArgs,
	}
	if s == W2Bulk {
		spec.WriteMiB, spec.CacheBytes = sz.W2, w2Cache
	}
	return spec
}

// openWriter opens the run's replica writable, with its write buffer in
// the run's temporary directory, and creates the table w(id, t, pad):
// the first commit, not measured.
func (c *child) openWriter(ctx context.Context, sync string) error {
	if c.openWrite == nil {
		return fmt.Errorf("this binary cannot open a replica for writing")
	}
	db, err := c.openWrite(c.spec.ReplicaURL, c.spec.CacheBytes, sync, filepath.Join(os.TempDir(), "buffer"))
	if err != nil {
		return err
	}
	c.db = db
	if c.conn, err = db.Conn(ctx); err != nil {
		return err
	}
	_, err = c.conn.ExecContext(ctx, `create table w(id integer primary key, t integer, pad blob)`)
	return err
}

// runCommitRate is W1: single-row transactions for the run's duration.
// Rates: commits per second, and per commit the PUTs, LISTs and GETs the
// proxy saw while they ran.
func runCommitRate(ctx context.Context, c *child) error {
	sync := "commit"
	if c.spec.Scenario == W1Group {
		sync = groupInterval.String()
	}
	if err := c.openWriter(ctx, sync); err != nil {
		return err
	}
	insert := func() error {
		_, err := c.conn.ExecContext(ctx, `insert into w(t, pad) values (?, randomblob(100))`, time.Now().UnixNano())
		return err
	}
	if err := insert(); err != nil { // the statement is prepared, the pages cached
		return err
	}
	var n int64
	err := c.measure(ctx, "commits", func() (string, error) {
		deadline := time.Now().Add(c.spec.Duration)
		for time.Now().Before(deadline) {
			if err := insert(); err != nil {
				return "", fmt.Errorf("commit %d: %w", n+1, err)
			}
			n++
		}
		return fmt.Sprintf("%d commits", n), nil
	})
	if err != nil {
		return err
	}
	p := c.res.Phases[len(c.res.Phases)-1]
	c.res.Rates = map[string]float64{
		"commits": float64(n) / p.Wall.Seconds(),
		"puts":    float64(p.Stats.ByMethod["PUT"]) / float64(n),
		"lists":   float64(p.Stats.Lists) / float64(n),
		"gets":    float64(p.Stats.ByMethod["GET"]-p.Stats.Lists) / float64(n),
		"seconds": p.Wall.Seconds(),
	}
	return c.checkRows(ctx, n+1)
}

// checkRows stores what group commit holds and checks that the replica,
// as this process reads it, has want rows in w.
func (c *child) checkRows(ctx context.Context, want int64) error {
	if _, err := c.conn.ExecContext(ctx, `PRAGMA strata_sync`); err != nil {
		return fmt.Errorf("store the commits: %w", err)
	}
	var got int64
	if err := c.conn.QueryRowContext(ctx, `select count(*) from w`).Scan(&got); err != nil {
		return err
	}
	if got != want {
		return fmt.Errorf("the replica holds %d rows, want %d", got, want)
	}
	return nil
}

// runBulkInsert is W2: one transaction of WriteMiB of incompressible rows
// (4,000 bytes each, about one page), in sync=commit.
func runBulkInsert(ctx context.Context, c *child) error {
	if err := c.openWriter(ctx, "commit"); err != nil {
		return err
	}
	rows := int64(c.spec.WriteMiB) << 20 / 4000
	err := c.measure(ctx, "bulk", func() (string, error) {
		_, err := c.conn.ExecContext(ctx, `with recursive n(i) as (select 1 union all select i+1 from n where i < ?)
			insert into w(t, pad) select i, randomblob(4000) from n`, rows)
		return fmt.Sprintf("%d rows", rows), err
	})
	if err != nil {
		return err
	}
	p := c.res.Phases[len(c.res.Phases)-1]
	c.res.Rates = map[string]float64{
		"mib_per_s": float64(c.spec.WriteMiB) / p.Wall.Seconds(),
		"puts":      float64(p.Stats.ByMethod["PUT"]),
		"posts":     float64(p.Stats.ByMethod["POST"]),
	}
	return c.checkRows(ctx, rows)
}
