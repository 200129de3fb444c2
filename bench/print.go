package bench

import (
	"encoding/json"
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
	"time"
)

// print writes the report as a table, or as JSON with -json.
func (r *report) print(cfg Config) error {
	if cfg.JSON {
		enc := json.NewEncoder(cfg.Stdout)
		enc.SetIndent("", "  ")
		enc.SetEscapeHTML(false)
		return enc.Encode(r)
	}
	r.printHeader(cfg.Stdout)
	tw := tabwriter.NewWriter(cfg.Stdout, 0, 0, 2, ' ', 0)
	fmt.Fprintln(tw, "SCENARIO\tREQS\tRANGE\tBYTES\tP50\tP95\tREQ P50/P99\tPEAK RSS\tTARGET\tVERDICT\tNOTE")
	for _, row := range r.Rows {
		fmt.Fprintln(tw, row.cells())
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	r.printErrors(cfg.Stdout)
	return nil
}

func (r *report) printHeader(w io.Writer) {
	mode := "quick"
	if r.Full {
		mode = "full"
	}
	bw := "unlimited"
	if r.Bandwidth > 0 {
		bw = formatBytes(r.Bandwidth) + "/s per response"
	}
	fmt.Fprintf(w, "strata-bench (%s): opener %s, latency %s, bandwidth %s, %d cold runs each\n",
		mode, r.Opener, r.Latency, bw, r.Repeats)
	roles := make([]string, 0, len(r.Datasets))
	for role := range r.Datasets {
		roles = append(roles, role)
	}
	slices.Sort(roles)
	for _, role := range roles {
		m := r.Datasets[role]
		fmt.Fprintf(w, "  %-6s dataset: %s, %d pages, %d rows, table %d pages (depth %d), index %d pages (depth %d), snapshot + %d L0\n",
			role, formatBytes(m.Bytes), m.Pages, m.Rows, m.Table.Pages, m.Table.Depth, m.Index.Pages, m.Index.Depth, m.Files-1)
	}
	fmt.Fprintf(w, "  cache: %s (S5: %s); REQS/RANGE/BYTES are medians over the measured phase; P50/P95 are its wall time;\n"+
		"  REQ P50/P99 is the latency of single requests at the proxy (injected latency included)\n\n",
		formatBytes(r.Caches["default"]), formatBytes(r.Caches[S5Memory]))
}

// cells is the row as tab-separated table cells.
func (row Row) cells() string {
	if row.Runs > 0 && row.Runs == row.Failed {
		return strings.Join([]string{row.Title, "-", "-", "-", "-", "-", "-", "-", row.Target, "FAILED", ""}, "\t")
	}
	rss := "-"
	if row.PeakRSS > 0 {
		rss = formatBytes(row.PeakRSS)
	}
	wall50, wall95 := formatDuration(row.WallP50), formatDuration(row.WallP95)
	switch row.Scenario {
	case S4Warm, W1Commit, W1Group, W3Seen:
		wall50, wall95 = "-", "-" // rates and latencies; see NOTE
	}
	bytes, ranges := formatBytes(row.Bytes), fmt.Sprint(row.RangeGETs)
	reqLatency := "-"
	if row.ReqP50 > 0 {
		reqLatency = formatDuration(row.ReqP50) + "/" + formatDuration(row.ReqP99)
	}
	if row.Computed {
		bytes, ranges = "-", "-"
	}
	note := row.Note
	if row.Failed > 0 {
		note = strings.TrimSpace(fmt.Sprintf("%s (%d of %d runs failed)", note, row.Failed, row.Runs))
	}
	title := row.Title
	if row.Computed {
		title = "  " + title // under the measured row it belongs to
	}
	return strings.Join([]string{title, fmt.Sprint(row.Requests), ranges, bytes,
		wall50, wall95, reqLatency, rss, row.Target, row.Verdict, note}, "\t")
}

func (r *report) printErrors(w io.Writer) {
	for _, row := range r.Rows {
		for i, e := range row.Errors {
			if i == 0 {
				fmt.Fprintf(w, "\n%s failed:\n", row.Title)
			}
			fmt.Fprintf(w, "  %s\n", strings.ReplaceAll(strings.TrimSpace(e), "\n", "\n  "))
		}
	}
}

// formatBytes prints a byte count with a binary unit.
func formatBytes(n int64) string {
	switch {
	case n >= 1<<30:
		return fmt.Sprintf("%.1f GiB", float64(n)/(1<<30))
	case n >= 1<<20:
		return fmt.Sprintf("%.1f MiB", float64(n)/(1<<20))
	case n >= 1<<10:
		return fmt.Sprintf("%.1f KiB", float64(n)/(1<<10))
	default:
		return fmt.Sprintf("%d B", n)
	}
}

// formatDuration rounds to a precision that reads well in a table.
func formatDuration(d time.Duration) string {
	switch {
	case d >= 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d >= time.Second:
		return d.Round(10 * time.Millisecond).String()
	case d >= time.Millisecond:
		return d.Round(100 * time.Microsecond).String()
	default:
		return d.Round(time.Microsecond).String()
	}
}
