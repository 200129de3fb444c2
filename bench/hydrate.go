package bench

import (
	"bytes"
	"context"
	"database/sql"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/backends"
)

// The hydration scenarios: a replica opened with a hydrated file (the
// whole database restored into a local file in the background).
//
//   - H1: time from opening until the file is complete, as MB/s of the
//     database, against restoring the same replica (replica.Restore, as
//     `strata restore` does) in the same process;
//   - H2: S4's warm lookups once the file is complete, against local
//     SQLite on a plain copy of the database;
//   - H3: a restart with one new level-0 file: requests of opening with
//     the hydrated file until it is caught up, minus those of opening the
//     same replica without one (the hydrator's own requests).
const (
	H1Hydrate = "H1"
	H2Warm    = "H2"
	H3CatchUp = "H3"
)

// hydrationScenarios run only when the binary offers a HydrateFunc.
var hydrationScenarios = []string{H1Hydrate, H2Warm, H3CatchUp}

// HydrateFunc opens the replica at replicaURL through the strata VFS with
// a page cache of cacheBytes, hydrated into the file at path (no hydration
// when path is empty).
type HydrateFunc func(replicaURL, path string, cacheBytes int64) (*sql.DB, error)

// Targets of the issue, at 20 ms injected latency.
const (
	hydrateRatio   = 0.9  // H1: of restore's throughput
	hydrateWarm    = 0.95 // H2: of local SQLite's rate
	catchUpRequest = 3    // H3: requests beyond a plain open's
)

func init() {
	AllScenarios = append(AllScenarios, hydrationScenarios...)
	scenarios[H1Hydrate] = runHydrate
	scenarios[H2Warm] = runHydratedWarm
	scenarios[H3CatchUp] = runCatchUp
	titles[H1Hydrate] = "H1 hydration"
	titles[H2Warm] = "H2 warm, hydrated"
	titles[H3CatchUp] = "H3 restart catch-up"
	mainPhase[H1Hydrate] = "hydrate"
	mainPhase[H2Warm] = "strata"
	mainPhase[H3CatchUp] = "catchup"
}

// checkHydration drops the hydration scenarios from the default list of a
// binary that cannot hydrate, and refuses them when asked for by name.
func (c *Config) checkHydration(asked bool) error {
	if c.Hydrate != nil {
		return nil
	}
	if asked {
		for _, s := range c.Scenarios {
			if slices.Contains(hydrationScenarios, s) {
				return fmt.Errorf("scenario %s needs a binary that hydrates (strata bench)", s)
			}
		}
	}
	c.Scenarios = slices.DeleteFunc(c.Scenarios, func(s string) bool { return slices.Contains(hydrationScenarios, s) })
	return nil
}

// judgeHydration sets the verdict of a hydration scenario's row.
func judgeHydration(row *Row) {
	switch row.Scenario {
	case H1Hydrate:
		h, r := row.Rates["hydrate_mbps"], row.Rates["restore_mbps"]
		row.Target = fmt.Sprintf(">= %.0f%% of restore", hydrateRatio*100)
		if r > 0 {
			row.Verdict = atLeast(h, hydrateRatio*r)
			row.Note = fmt.Sprintf("%.1f MB/s vs restore %.1f MB/s = %.0f%%", h, r, 100*h/r)
		}
	case H2Warm:
		s, l := row.Rates["strata"], row.Rates["local"]
		row.Target = fmt.Sprintf(">= %.0f%% of local", hydrateWarm*100)
		if l > 0 {
			row.Verdict = atLeast(s, hydrateWarm*l)
			row.Note = fmt.Sprintf("%.0f/s vs local %.0f/s = %.0f%%", s, l, 100*s/l)
		}
	case H3CatchUp:
		extra := row.Rates["extra_requests"]
		row.Target = fmt.Sprintf("<= %d req beyond a plain open", catchUpRequest)
		row.Verdict = atMost(extra, catchUpRequest)
		row.Note = fmt.Sprintf("%.0f extra (%.0f LIST), %.0f in all; downloaded %s by the hydrator",
			extra, row.Rates["extra_lists"], row.Rates["catchup_requests"], formatBytes(int64(row.Rates["downloaded"])))
	}
}

// hydrationState is what a child needs of PRAGMA strata_hydration.
type hydrationState struct {
	State      string `json:"state"`
	TXID       string `json:"txid"`
	Bytes      int64  `json:"bytes"`
	Downloaded int64  `json:"downloaded"`
	Error      string `json:"error"`
}

// openHydrated opens the replica hydrated into path (the child's own
// temporary directory) as c.db and c.conn, and reads the schema.
func (c *child) openHydrated(ctx context.Context, path string) error {
	if c.hydrate == nil {
		return errors.New("this binary cannot hydrate (no HydrateFunc)")
	}
	db, err := c.hydrate(c.spec.ReplicaURL, path, c.spec.CacheBytes)
	if err != nil {
		return err
	}
	c.db = db
	if c.conn, err = db.Conn(ctx); err != nil {
		return err
	}
	_, err = queryString(ctx, c.conn, "SELECT count(*) FROM sqlite_master")
	return err
}

// waitHydrated polls the connection until its hydrated file holds the
// state the connection sees.
func (c *child) waitHydrated(ctx context.Context) (hydrationState, error) {
	for {
		var raw, txid string
		if err := c.conn.QueryRowContext(ctx, "PRAGMA strata_hydration").Scan(&raw); err != nil {
			return hydrationState{}, err
		}
		if err := c.conn.QueryRowContext(ctx, "PRAGMA strata_txid").Scan(&txid); err != nil {
			return hydrationState{}, err
		}
		var h hydrationState
		if err := json.Unmarshal([]byte(raw), &h); err != nil {
			return h, fmt.Errorf("strata_hydration %q: %w", raw, err)
		}
		switch {
		case h.State == "failed":
			return h, fmt.Errorf("hydration failed: %s", h.Error)
		case h.State == "complete" && h.TXID == txid:
			return h, nil
		}
		select {
		case <-ctx.Done():
			return h, ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// hydratePhase opens hydrated and waits for the file, as phase name.
func (c *child) hydratePhase(ctx context.Context, name, path string) (hydrationState, error) {
	var h hydrationState
	err := c.measure(ctx, name, func() (string, error) {
		if err := c.openHydrated(ctx, path); err != nil {
			return "", err
		}
		var err error
		h, err = c.waitHydrated(ctx)
		return fmt.Sprintf("TXID %s, %d bytes", h.TXID, h.Bytes), err
	})
	return h, err
}

// hydratedPath is the hydrated file of a child run, in its own TMPDIR.
func hydratedPath() string { return filepath.Join(os.TempDir(), "hydrated.db") }

// h1Rounds is how many times H1 hydrates and restores, alternately, in
// one child; each rate is the best round's, so that a round slowed by
// the rest of the machine does not decide the comparison.
const h1Rounds = 2

// runHydrate measures hydration (open until the file is complete, the
// phase "hydrate") and restore, alternately, as MB/s of the database.
func runHydrate(ctx context.Context, c *child) error {
	var hydrate, restore float64
	for round := range h1Rounds {
		path := filepath.Join(os.TempDir(), fmt.Sprintf("hydrated-%d.db", round))
		name := "hydrate"
		if round > 0 {
			name = fmt.Sprintf("hydrate-%d", round+1)
		}
		if _, err := c.hydratePhase(ctx, name, path); err != nil {
			return err
		}
		c.close()
		c.db, c.conn = nil, nil
		rate, err := mbps(path, c.res.Phases[len(c.res.Phases)-1].Wall)
		if err != nil {
			return err
		}
		hydrate = max(hydrate, rate)
		restored := filepath.Join(os.TempDir(), fmt.Sprintf("restored-%d.db", round))
		err = c.measure(ctx, fmt.Sprintf("restore-%d", round+1), func() (string, error) {
			return "", restoreFile(ctx, c.spec.ReplicaURL, restored)
		})
		if err != nil {
			return err
		}
		if rate, err = mbps(restored, c.res.Phases[len(c.res.Phases)-1].Wall); err != nil {
			return err
		}
		restore = max(restore, rate)
	}
	c.res.Rates = map[string]float64{"hydrate_mbps": hydrate, "restore_mbps": restore}
	return nil
}

// mbps is the size of the file at path, in MB, per second of wall.
func mbps(path string, wall time.Duration) (float64, error) {
	st, err := os.Stat(path)
	if err != nil {
		return 0, err
	}
	return float64(st.Size()) / 1e6 / wall.Seconds(), nil
}

// restoreFile restores the latest state of the replica into path, as
// `strata restore` does.
func restoreFile(ctx context.Context, replicaURL, path string) error {
	store, err := backends.Open(ctx, replicaURL)
	if err != nil {
		return err
	}
	r := replica.New(store)
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		return err
	}
	f, err := os.Create(path)
	if err != nil {
		return err
	}
	defer f.Close()
	return r.Restore(ctx, plan, f, replica.RestoreOptions{})
}

func runHydratedWarm(ctx context.Context, c *child) error {
	if _, err := c.hydratePhase(ctx, "hydrate", hydratedPath()); err != nil {
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

// runCatchUp hydrates the replica without its last level-0 file, puts the
// file back (a commit while the process was away), then opens the replica
// twice: without the hydrated file, and with it until it is caught up.
func runCatchUp(ctx context.Context, c *child) error {
	store, err := backends.Open(ctx, c.spec.ReplicaURL)
	if err != nil {
		return err
	}
	r := replica.New(store)
	l0, err := r.List(ctx, 0, 0)
	if err != nil || len(l0) == 0 {
		return fmt.Errorf("level 0 of %s: %d files, %v", store, len(l0), err)
	}
	last := l0[len(l0)-1]
	data, err := r.ReadAt(ctx, last, 0, last.Size)
	if err != nil {
		return err
	}
	hdr, err := r.ParsedHeader(ctx, last)
	if err != nil {
		return err
	}
	if err := store.Delete(ctx, []storage.FileInfo{last}); err != nil {
		return err
	}
	restored := false
	putBack := func() error {
		if restored {
			return nil
		}
		restored = true
		return store.Write(ctx, last, time.UnixMilli(hdr.Timestamp), bytes.NewReader(data))
	}
	defer putBack() // the dataset stays whole for the runs after this one

	path := hydratedPath()
	if _, err := c.hydratePhase(ctx, "hydrate", path); err != nil {
		return err
	}
	c.close()
	c.db, c.conn = nil, nil
	if err := putBack(); err != nil {
		return err
	}
	err = c.measure(ctx, "open", func() (string, error) {
		db, err := c.hydrate(c.spec.ReplicaURL, "", c.spec.CacheBytes)
		if err != nil {
			return "", err
		}
		defer db.Close()
		conn, err := db.Conn(ctx)
		if err != nil {
			return "", err
		}
		defer conn.Close()
		return queryString(ctx, conn, "SELECT count(*) FROM sqlite_master")
	})
	if err != nil {
		return err
	}
	h, err := c.hydratePhase(ctx, "catchup", path)
	if err != nil {
		return err
	}
	if h.TXID != last.MaxTXID.String() {
		return fmt.Errorf("caught up to TXID %s, want %s", h.TXID, last.MaxTXID)
	}
	open, catchup := c.res.Phases[len(c.res.Phases)-2].Stats, c.res.Phases[len(c.res.Phases)-1].Stats
	c.res.Rates = map[string]float64{
		"extra_requests":   float64(catchup.Requests - open.Requests),
		"extra_lists":      float64(catchup.Lists - open.Lists),
		"catchup_requests": float64(catchup.Requests),
		"downloaded":       float64(h.Downloaded),
	}
	return nil
}
