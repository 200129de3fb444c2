package bench

import (
	"fmt"
	"strings"
	"time"
)

// The targets, at 20 ms injected latency.
const (
	openTarget     = 500 * time.Millisecond // S1 with up to 100 L0 files
	openTarget1000 = time.Second            // S1 with up to 1,000
	scanReqRatio   = 16                     // S3: pages read per request, at least
	scanSpeedup    = 10                     // S3: times faster than one request per page
	warmRatio      = 0.8                    // S4: of local SQLite's rate
	rssHeadroom    = 64 << 20               // S5: above the cache size
)

// judge sets the row's target and verdict. Rows without successful runs
// are not judged.
func judge(row *Row, cfg Config, sz sizes, e *env) {
	if row.Runs == row.Failed {
		return
	}
	scan, lookup := e.meta(scanData), e.meta(lookupData)
	switch row.Scenario {
	case S1Open:
		limit := openTarget
		if cfg.L0 > 100 {
			limit = openTarget1000
		}
		row.Target = "p50 < " + limit.String()
		row.Verdict = atMost(float64(row.WallP50), float64(limit))
		row.Note = fmt.Sprintf("%d files", scan.Files)
	case S2PK:
		limit := lookup.Table.Depth + 1
		row.Target = fmt.Sprintf("<= %d req (depth %d + 1)", limit, lookup.Table.Depth)
		row.Verdict = atMost(float64(row.Requests), float64(limit))
	case S2Index:
		limit := lookup.Index.Depth + lookup.Table.Depth + 1
		row.Target = fmt.Sprintf("<= %d req (depths %d+%d + 1)", limit, lookup.Index.Depth, lookup.Table.Depth)
		row.Verdict = atMost(float64(row.Requests), float64(limit))
	case S3Scan:
		judgeScan(row, cfg, scan.Table.Pages)
	case S4Warm:
		judgeWarm(row)
	case C1L0, C1Compacted, C2Compact:
		judgeCompaction(row, e)
	case W1Commit, W1Group, W2Bulk, W3Seen:
		judgeWrite(row, cfg)
	case S5Memory:
		limit := int64(sz.S5Cache)<<20 + rssHeadroom
		row.Target = "RSS <= cache+64MiB = " + formatBytes(limit)
		row.Verdict = atMost(float64(row.PeakRSS), float64(limit))
		row.Note = fmt.Sprintf("db %s, cache %d MiB", formatBytes(lookup.Bytes), sz.S5Cache)
	default:
		judgeHydration(row)
	}
}

func judgeScan(row *Row, cfg Config, pages int) {
	naive := time.Duration(pages) * cfg.Latency
	row.Target = fmt.Sprintf("<= %d req, p50 <= %s", pages/scanReqRatio, (naive / scanSpeedup).Round(time.Millisecond))
	row.Verdict = both(atMost(float64(row.Requests), float64(pages/scanReqRatio)), "req",
		atMost(float64(row.WallP50), float64(naive/scanSpeedup)), "time")
	row.Note = fmt.Sprintf("%d pages", pages)
	if row.Requests > 0 {
		row.Note += fmt.Sprintf(", %.1f pages/req", float64(pages)/float64(row.Requests))
	}
	if row.WallP50 > 0 && cfg.Latency > 0 {
		row.Note += fmt.Sprintf(", %.1fx faster than naive", float64(naive)/float64(row.WallP50))
	}
}

func judgeWarm(row *Row) {
	strata, local := row.Rates["strata"], row.Rates["local"]
	row.Target = fmt.Sprintf(">= %.0f%% of local", warmRatio*100)
	if local > 0 {
		row.Verdict = atLeast(strata, warmRatio*local)
		row.Note = fmt.Sprintf("%.0f/s vs local %.0f/s = %.0f%%", strata, local, 100*strata/local)
	}
}

// naiveRow is the computed cost of a VFS that makes one request per page
// and two sequential requests per file when opening, at the injected
// latency: the baseline the issue measures against.
func naiveRow(s string, cfg Config, e *env) (Row, bool) {
	var reqs int
	var note string
	switch s {
	case S1Open:
		reqs, note = 2*e.meta(scanData).Files, "2 sequential requests per file"
	case S3Scan:
		reqs, note = e.meta(scanData).Table.Pages, "1 request per page"
	default:
		return Row{}, false
	}
	wall := time.Duration(reqs) * cfg.Latency
	return Row{Scenario: s, Title: "naive (computed)", Computed: true,
		Requests: int64(reqs), WallP50: wall, WallP95: wall, Note: note}, true
}

func atMost(got, limit float64) string {
	if got <= limit {
		return "ok"
	}
	return fmt.Sprintf("MISS %.1fx", got/limit)
}

func atLeast(got, limit float64) string {
	if got >= limit {
		return "ok"
	}
	return fmt.Sprintf("MISS %.0f%%", 100*got/limit)
}

// both combines two verdicts, saying which part missed.
func both(a, aName, b, bName string) string {
	var missed []string
	if a != "ok" {
		missed = append(missed, strings.TrimPrefix(a, "MISS ")+" "+aName)
	}
	if b != "ok" {
		missed = append(missed, strings.TrimPrefix(b, "MISS ")+" "+bName)
	}
	if len(missed) == 0 {
		return "ok"
	}
	return "MISS " + strings.Join(missed, ", ")
}
