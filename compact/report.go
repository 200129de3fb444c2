package compact

import (
	"errors"
	"fmt"
	"io"
	"time"

	"github.com/strata-db/strata/storage"
)

// Report is what one pass did, or would do in a dry run.
type Report struct {
	At     time.Time // the pass's clock reading
	DryRun bool
	// Merges are the compactions and snapshots, in the order they ran.
	Merges []Merge
	// Deleted are the files retention removed (or would remove).
	Deleted []Deletion
	// Kept are files the retention rules would delete but the pass kept,
	// and why: without them a TXID would lose its only cover or the latest
	// state its only chain of files.
	Kept []Deletion
	// Problems are what the pass skipped and why: corrupt files, gaps,
	// storage errors of one step. The pass went on with the rest.
	Problems []error
}

// Outcome is what became of a merge.
type Outcome int

const (
	// Written: the output file was created.
	Written Outcome = iota
	// Exists: another compactor (or an earlier attempt) created the same
	// file first; nothing was written, which is not an error.
	Exists
	// Planned: a dry run would write it.
	Planned
)

func (o Outcome) String() string {
	switch o {
	case Written:
		return "merged"
	case Exists:
		return "exists"
	default:
		return "would merge"
	}
}

// Merge is one compaction (Output at levels 1-8) or snapshot (level 9).
type Merge struct {
	Inputs  []storage.FileInfo
	Output  storage.FileInfo
	Outcome Outcome
	Took    time.Duration
}

// InputBytes is the total size of the inputs.
func (m Merge) InputBytes() int64 {
	var n int64
	for _, f := range m.Inputs {
		n += f.Size
	}
	return n
}

// Deletion is one file retention removed, and why.
type Deletion struct {
	File   storage.FileInfo
	Reason string
}

// Err joins the problems, nil if there were none.
func (r Report) Err() error { return errors.Join(r.Problems...) }

// Written reports the merges whose output was created by this pass.
func (r Report) Written() []Merge {
	var out []Merge
	for _, m := range r.Merges {
		if m.Outcome == Written {
			out = append(out, m)
		}
	}
	return out
}

// Print writes the report for people, one line per merge, deletion and
// problem; nothing when the pass had nothing to do.
func (r Report) Print(w io.Writer) {
	for _, m := range r.Merges {
		in := "1 file"
		if len(m.Inputs) != 1 {
			in = fmt.Sprintf("%d files", len(m.Inputs))
		}
		what := "into"
		if m.Output.Level == storage.SnapshotLevel {
			what = "into snapshot"
		}
		size := ""
		if m.Outcome == Written {
			size = fmt.Sprintf(" (%s) in %s", Bytes(m.Output.Size), m.Took.Round(time.Millisecond))
		}
		suffix := ""
		if m.Outcome == Exists {
			suffix = ": another compactor wrote it first"
		}
		fmt.Fprintf(w, "%-11s %s (%s, %s) %s %s%s%s\n", m.Outcome, span(m.Inputs), in, Bytes(m.InputBytes()), what, m.Output, size, suffix)
	}
	verb := "deleted"
	if r.DryRun {
		verb = "would delete"
	}
	for _, d := range r.Deleted {
		fmt.Fprintf(w, "%-11s %s (%s): %s\n", verb, d.File, Bytes(d.File.Size), d.Reason)
	}
	for _, d := range r.Kept {
		fmt.Fprintf(w, "%-11s %s: %s\n", "kept", d.File, d.Reason)
	}
	for _, p := range r.Problems {
		fmt.Fprintf(w, "%-11s %v\n", "skipped", p)
	}
}

// span names the levels and TXID range of a chain of files.
func span(files []storage.FileInfo) string {
	if len(files) == 0 {
		return "nothing"
	}
	levels := ""
	seen := map[int]bool{}
	for _, f := range files {
		if !seen[f.Level] {
			seen[f.Level] = true
			if levels != "" {
				levels += "+"
			}
			levels += fmt.Sprintf("L%d", f.Level)
		}
	}
	return fmt.Sprintf("%s %s-%s", levels, files[0].MinTXID, files[len(files)-1].MaxTXID)
}

// Bytes formats a size for people (1.5 MiB).
func Bytes(n int64) string {
	const unit = 1024
	if n < unit {
		return fmt.Sprintf("%d B", n)
	}
	div, exp := int64(unit), 0
	for m := n / unit; m >= unit; m /= unit {
		div *= unit
		exp++
	}
	return fmt.Sprintf("%.1f %ciB", float64(n)/float64(div), "KMGTPE"[exp])
}
