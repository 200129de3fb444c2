package bench

import (
	"context"
	"fmt"

	"github.com/strata-db/strata/bench/dataset"
)

// scenarios maps a scenario name to what a child run does for it. Every
// scenario starts cold: a fresh process with an empty cache.
var scenarios = map[string]func(context.Context, *child) error{
	S1Open:   runOpen,
	S2PK:     runLookupPK,
	S2Index:  runLookupIndex,
	S3Scan:   runScan,
	S4Warm:   runWarm,
	S5Memory: runMemory,
	// Compaction (compaction.go).
	C1L0:        runOpen,
	C1Compacted: runOpen,
	C2Compact:   runCompactionC2,
	// Writing (write.go).
	W1Commit: runCommitRate,
	W1Group:  runCommitRate,
	W2Bulk:   runBulkInsert,
	W3Seen:   runSeenLatency,
	w3Reader: runSeenReader,
}

// Queries of the scenarios. The scans ask for a column of every row, so
// SQLite must read every page of the table rather than a smaller index.
const (
	lookupPK    = "SELECT length(v) FROM rows WHERE id = ?"
	lookupIndex = "SELECT id, length(v) FROM rows WHERE k = ?"
	scanTable   = "SELECT count(*), sum(length(v)) FROM rows"
	scanIndex   = "SELECT count(*), max(k) FROM rows INDEXED BY rows_k"
)

func runOpen(ctx context.Context, c *child) error { return c.openReplica(ctx) }

// pickRow chooses a row id from a seed, spread over the whole table.
func pickRow(seed uint64, rows int64) int64 {
	x := seed*0x9e3779b97f4a7c15 + 0x632be59bd9b4e019
	x ^= x >> 29
	return int64(x%uint64(rows)) + 1
}

func runLookupPK(ctx context.Context, c *child) error {
	if err := c.openReplica(ctx); err != nil {
		return err
	}
	id := pickRow(c.spec.Seed, c.spec.Rows)
	return c.measure(ctx, "lookup", func() (string, error) {
		return queryString(ctx, c.conn, lookupPK, id)
	})
}

func runLookupIndex(ctx context.Context, c *child) error {
	if err := c.openReplica(ctx); err != nil {
		return err
	}
	k := dataset.Key(pickRow(c.spec.Seed, c.spec.Rows))
	return c.measure(ctx, "lookup", func() (string, error) {
		return queryString(ctx, c.conn, lookupIndex, k)
	})
}

func runScan(ctx context.Context, c *child) error {
	if err := c.openReplica(ctx); err != nil {
		return err
	}
	return c.measure(ctx, "scan", func() (string, error) {
		return queryString(ctx, c.conn, scanTable)
	})
}

// runMemory scans the table and then the index, so that every page of a
// database several times larger than the cache passes through it.
func runMemory(ctx context.Context, c *child) error {
	if err := c.openReplica(ctx); err != nil {
		return err
	}
	return c.measure(ctx, "scan", func() (string, error) {
		a, err := queryString(ctx, c.conn, scanTable)
		if err != nil {
			return "", err
		}
		b, err := queryString(ctx, c.conn, scanIndex)
		return fmt.Sprintf("%s / %s", a, b), err
	})
}
