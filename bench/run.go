package bench

import (
	"context"
	"fmt"
	"time"
)

// Run runs the harness: set up, run every scenario Repeats times in fresh
// processes, print the report, stop everything. It fails if any run
// failed, after printing what it has.
func Run(ctx context.Context, cfg Config) error {
	if err := cfg.check(); err != nil {
		return err
	}
	sz := cfg.sizes()
	e, err := setup(ctx, cfg, sz)
	if err != nil {
		return err
	}
	defer e.close()
	var runs []runResult
	for _, s := range cfg.Scenarios {
		for rep := range cfg.Repeats {
			r := e.runChild(ctx, e.spec(s, rep, sz), rep)
			e.logRun(r)
			runs = append(runs, r)
			if ctx.Err() != nil {
				return ctx.Err()
			}
		}
	}
	rep := summarize(cfg, sz, e, runs)
	if err := rep.print(cfg); err != nil {
		return err
	}
	if n := rep.failed(); n > 0 {
		return fmt.Errorf("%d of %d runs failed", n, len(runs))
	}
	return nil
}

// spec describes one run of scenario s.
func (e *env) spec(s string, repeat int, sz sizes) childSpec {
	if isWrite(s) {
		return e.writeSpec(s, repeat, sz)
	}
	role := roleOf(s)
	d := e.datasets[role]
	spec := childSpec{
		Scenario: s, Opener: e.cfg.Opener,
		ReplicaURL: e.urls[role], ProxyURL: e.px.URL(), LocalDB: d.LocalDB(),
		CacheBytes: e.defaultCache(), Rows: d.Meta.Rows,
		Seed: uint64(repeat + 1), Duration: sz.S4Duration,
	}
	if s == S5Memory {
		spec.CacheBytes = int64(sz.S5Cache) << 20
	}
	return spec
}

// defaultCache holds every dataset whole, so that only S5 ever evicts.
func (e *env) defaultCache() int64 {
	var biggest int64
	for _, d := range e.datasets {
		biggest = max(biggest, d.Meta.Bytes)
	}
	return max(2*biggest, 64<<20)
}

func (e *env) logRun(r runResult) {
	if r.Err != "" {
		e.logf("%s #%d: FAILED: %s", r.Scenario, r.Repeat+1, r.Err)
		return
	}
	e.logf("%s #%d: %d requests, %s, peak RSS %s", r.Scenario, r.Repeat+1,
		r.Proxy.Requests, r.Process.Round(time.Millisecond), formatBytes(r.PeakRSS))
}
