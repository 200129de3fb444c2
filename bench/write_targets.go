package bench

import (
	"fmt"
	"strings"
	"time"
)

// The targets for the write scenarios, at 20 ms per request.
const (
	commitRate   = 25   // W1-commit: commits per second, at least
	groupRate    = 2000 // W1-group: commits per second, at least
	maxPutRetry  = 1.05 // W1-commit: PUTs per commit (one, and rare retries)
	readerPollIn = 1.0  // W3: the reader's poll interval in seconds (the VFS default)
	pollLists    = 2.0  // LISTs per poll (levels 0 and 1): the poller's, not the commits'
)

// judgeWrite sets the target, verdict and note of a write scenario's row
// from its median rates.
func judgeWrite(row *Row, cfg Config) {
	r := row.Rates
	switch row.Scenario {
	case W1Commit:
		rate, lists := r["commits"], r["lists"]*r["commits"]
		row.Target = fmt.Sprintf(">= %d/s, 1 PUT/commit, no LIST per commit", commitRate)
		row.Verdict = all(
			atLeast(rate, commitRate), "rate",
			atMost(r["puts"], maxPutRetry), "PUT",
			atMost(lists, pollLists/readerPollIn), "LIST")
		row.Note = fmt.Sprintf("%.1f commits/s; per commit %.2f PUT, %.2f GET; %.1f LIST/s (the poller's)", rate, r["puts"], r["gets"], lists)
	case W1Group:
		rate := r["commits"]
		putsPerSec := r["puts"] * rate
		row.Target = fmt.Sprintf(">= %d/s, <= 1 PUT/s", groupRate)
		row.Verdict = all(atLeast(rate, groupRate), "rate", atMost(putsPerSec, 1/groupInterval.Seconds()+1/r["seconds"]), "PUT")
		row.Note = fmt.Sprintf("%.0f commits/s; %.2f PUT/s", rate, putsPerSec)
	case W2Bulk:
		limit := int64(w2Cache) + rssHeadroom
		row.Target = "RSS <= cache+64MiB = " + formatBytes(limit)
		row.Verdict = atMost(float64(row.PeakRSS), float64(limit))
		row.Note = fmt.Sprintf("%d MiB in one transaction, %.1f MiB/s; %.0f PUT, %.0f POST", cfg.sizes().W2, r["mib_per_s"], r["puts"], r["posts"])
	case W3Seen:
		limit := readerPollIn*1000 + 2*float64(cfg.Latency)/float64(time.Millisecond)
		row.Target = fmt.Sprintf("max <= poll %gs + 2 req = %.0fms", readerPollIn, limit)
		row.Verdict = atMost(r["max_ms"], limit)
		row.Note = fmt.Sprintf("after COMMIT: p50 %.0fms, max %.0fms (%d commits per run)", r["p50_ms"], r["max_ms"], cfg.sizes().W3Samples)
	}
}

// all combines verdicts given as (verdict, name) pairs, naming the parts
// that missed.
func all(parts ...string) string {
	var missed []string
	for i := 0; i+1 < len(parts); i += 2 {
		if parts[i] != "ok" {
			missed = append(missed, strings.TrimPrefix(parts[i], "MISS ")+" "+parts[i+1])
		}
	}
	if len(missed) == 0 {
		return "ok"
	}
	return "MISS " + strings.Join(missed, ", ")
}
