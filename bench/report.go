package bench

import (
	"slices"
	"time"

	"github.com/strata-db/strata/bench/dataset"
)

// Row is one line of the report: one scenario over its repeats, or a
// number computed rather than measured (Computed).
type Row struct {
	Scenario string `json:"scenario"`
	Title    string `json:"title"`
	Computed bool   `json:"computed,omitempty"`
	Runs     int    `json:"runs"`
	Failed   int    `json:"failed,omitempty"`
	// Requests, RangeGETs and Bytes (received) are medians over the runs,
	// counted during the scenario's measured phase only.
	Requests  int64         `json:"requests"`
	RangeGETs int64         `json:"range_gets"`
	Bytes     int64         `json:"bytes"`
	WallP50   time.Duration `json:"wall_p50_ns"`
	WallP95   time.Duration `json:"wall_p95_ns"`
	// ReqP50 and ReqP99 are per-request latencies seen at the proxy over
	// whole runs (injected latency included): the median of the runs' p50
	// and the largest p99.
	ReqP50  time.Duration `json:"request_p50_ns"`
	ReqP99  time.Duration `json:"request_p99_ns"`
	PeakRSS int64         `json:"peak_rss_bytes"` // the largest over the runs
	// Rates are median operations per second (S4).
	Rates   map[string]float64 `json:"rates,omitempty"`
	Target  string             `json:"target,omitempty"`
	Verdict string             `json:"verdict,omitempty"` // "ok", "MISS ...", or "" when not judged
	Note    string             `json:"note,omitempty"`
	Errors  []string           `json:"errors,omitempty"`
}

// report is everything printed at the end of a run.
type report struct {
	Opener    string                  `json:"opener"`
	Latency   time.Duration           `json:"latency_ns"`
	Bandwidth int64                   `json:"bandwidth"`
	Repeats   int                     `json:"repeats"`
	Full      bool                    `json:"full"`
	Datasets  map[string]dataset.Meta `json:"datasets"`
	Caches    map[string]int64        `json:"cache_bytes"`
	Rows      []Row                   `json:"rows"`
	Runs      []runResult             `json:"runs"`
}

// mainPhase is the phase each scenario is about; the open phase before
// it is reported by S1.
var mainPhase = map[string]string{
	S1Open: "open", S2PK: "lookup", S2Index: "lookup", S3Scan: "scan", S4Warm: "strata", S5Memory: "scan",
	C1L0: "open", C1Compacted: "open", C2Compact: "compact",
	W1Commit: "commits", W1Group: "commits", W2Bulk: "bulk", W3Seen: "seen",
}

var titles = map[string]string{
	S1Open:   "S1 open + schema",
	S2PK:     "S2 lookup by id",
	S2Index:  "S2 lookup by index",
	S3Scan:   "S3 full scan",
	S4Warm:   "S4 warm lookups",
	S5Memory: "S5 scan, small cache",
	// Compaction (compaction.go).
	C1L0:        "C1 open, a day of L0",
	C1Compacted: "C1 open, compacted",
	C2Compact:   "C2 snapshot merge",
	// Writing (write.go).
	W1Commit: "W1 commits, sync=commit",
	W1Group:  "W1 commits, sync=1s",
	W2Bulk:   "W2 bulk insert",
	W3Seen:   "W3 seen by a reader",
}

func summarize(cfg Config, sz sizes, e *env, runs []runResult) *report {
	rep := &report{
		Opener: cfg.Opener, Latency: cfg.Latency, Bandwidth: cfg.Bandwidth,
		Repeats: cfg.Repeats, Full: cfg.Full, Runs: runs,
		Datasets: map[string]dataset.Meta{},
		Caches:   map[string]int64{"default": e.defaultCache(), S5Memory: int64(sz.S5Cache) << 20},
	}
	for role, d := range e.datasets {
		rep.Datasets[role] = d.Meta
	}
	for _, s := range cfg.Scenarios {
		row := measuredRow(s, runs)
		judge(&row, cfg, sz, e)
		rep.Rows = append(rep.Rows, row)
		if naive, ok := naiveRow(s, cfg, e); ok {
			rep.Rows = append(rep.Rows, naive)
		}
	}
	return rep
}

// measuredRow condenses the runs of scenario s.
func measuredRow(s string, runs []runResult) Row {
	row := Row{Scenario: s, Title: titles[s]}
	var reqs, ranges, bytes []int64
	var walls, reqP50s []time.Duration
	rates := map[string][]float64{}
	for _, r := range runs {
		if r.Scenario != s {
			continue
		}
		row.Runs++
		p, ok := r.phase(mainPhase[s])
		if r.Err != "" || !ok {
			row.Failed++
			row.Errors = append(row.Errors, r.Err)
			continue
		}
		reqs, ranges, bytes = append(reqs, p.Stats.Requests), append(ranges, p.Stats.RangeGETs), append(bytes, p.Stats.ResponseBytes)
		walls = append(walls, p.Wall)
		reqP50s = append(reqP50s, r.Proxy.Latency.P50)
		row.ReqP99 = max(row.ReqP99, r.Proxy.Latency.P99)
		row.PeakRSS = max(row.PeakRSS, r.PeakRSS)
		for k, v := range r.Rates {
			rates[k] = append(rates[k], v)
		}
	}
	row.Requests, row.RangeGETs, row.Bytes = median(reqs), median(ranges), median(bytes)
	row.WallP50, row.WallP95 = percentile(walls, 50), percentile(walls, 95)
	row.ReqP50 = percentile(reqP50s, 50)
	if len(rates) > 0 {
		row.Rates = map[string]float64{}
		for k, v := range rates {
			row.Rates[k] = median(v)
		}
	}
	return row
}

func (r *report) failed() int {
	n := 0
	for _, run := range r.Runs {
		if run.Err != "" {
			n++
		}
	}
	return n
}

// median of the values (the lower middle one for an even count).
func median[T int64 | float64](v []T) T {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	return s[(len(s)-1)/2]
}

// percentile is the nearest-rank percentile; with 3 repeats p95 is the
// slowest run.
func percentile(v []time.Duration, pct int) time.Duration {
	if len(v) == 0 {
		return 0
	}
	s := slices.Clone(v)
	slices.Sort(s)
	i := (pct*len(s)+99)/100 - 1
	return s[max(i, 0)]
}
