package bench

import (
	"context"
	"database/sql"
	"fmt"
	"time"

	"github.com/strata-db/strata/bench/dataset"
	"golang.org/x/sync/errgroup"
)

// warmKeys is the working set of S4: small enough to be cached whole,
// large enough that lookups do not all hit the same leaf pages.
const warmKeys = 1000

// warmParallel is how many connections fill the cache before S4
// measures: cold reads are not what S4 is about, so they overlap.
const warmParallel = 16

// runWarm measures point lookups per second once the working set is
// cached, through the replica and then on the local copy of the same
// database in the same process.
func runWarm(ctx context.Context, c *child) error {
	if err := c.openReplica(ctx); err != nil {
		return err
	}
	w := newWorkload(c.spec)
	strata, err := c.lookupRate(ctx, "strata", c.db, c.conn, w)
	if err != nil {
		return err
	}
	local, err := sql.Open("sqlite3", "file:"+c.spec.LocalDB+"?mode=ro")
	if err != nil {
		return err
	}
	defer local.Close()
	conn, err := local.Conn(ctx)
	if err != nil {
		return err
	}
	defer conn.Close()
	plain, err := c.lookupRate(ctx, "local", local, conn, w)
	if err != nil {
		return err
	}
	c.res.Rates = map[string]float64{"strata": strata, "local": plain}
	return nil
}

// workload is S4's working set: rows by id, and their keys.
type workload struct {
	ids  []int64
	keys []string
}

func newWorkload(spec childSpec) workload {
	w := workload{ids: make([]int64, warmKeys), keys: make([]string, warmKeys)}
	for i := range w.ids {
		w.ids[i] = pickRow(spec.Seed*warmKeys+uint64(i), spec.Rows)
		w.keys[i] = dataset.Key(w.ids[i])
	}
	return w
}

// querier is what both a *sql.DB and a *sql.Conn offer.
type querier interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// lookup runs lookup number i: even ones by id, odd ones by key.
func (w workload) lookup(ctx context.Context, q querier, i int) error {
	var id, n int64
	j := (i / 2) % len(w.ids)
	if i%2 == 0 {
		return q.QueryRowContext(ctx, lookupPK, w.ids[j]).Scan(&n)
	}
	return q.QueryRowContext(ctx, lookupIndex, w.keys[j]).Scan(&id, &n)
}

// lookupRate warms the cache behind db with every lookup of the working
// set (phase name+"-warmup"), then runs lookups on conn for the configured
// duration (phase name) and returns lookups per second.
func (c *child) lookupRate(ctx context.Context, name string, db *sql.DB, conn *sql.Conn, w workload) (float64, error) {
	err := c.measure(ctx, name+"-warmup", func() (string, error) {
		g, gctx := errgroup.WithContext(ctx)
		g.SetLimit(warmParallel)
		for i := range 2 * len(w.ids) {
			g.Go(func() error { return w.lookup(gctx, db, i) })
		}
		return "", g.Wait()
	})
	if err != nil {
		return 0, err
	}
	var ops int
	err = c.measure(ctx, name, func() (string, error) {
		deadline := time.Now().Add(c.spec.Duration)
		// The clock is read every 256 lookups, not on every one.
		for ; ops%256 != 0 || time.Now().Before(deadline); ops++ {
			if err := w.lookup(ctx, conn, ops); err != nil {
				return "", err
			}
		}
		return fmt.Sprintf("%d lookups", ops), nil
	})
	if err != nil {
		return 0, err
	}
	wall := c.res.Phases[len(c.res.Phases)-1].Wall
	return float64(ops) / wall.Seconds(), nil
}
