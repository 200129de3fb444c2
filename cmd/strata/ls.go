package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/strata-db/strata/compact"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
	"golang.org/x/sync/errgroup"
)

// lsEntry is one file of `strata ls`.
type lsEntry struct {
	Level    int       `json:"level"`
	MinTXID  string    `json:"min_txid"`
	MaxTXID  string    `json:"max_txid"`
	Size     int64     `json:"size"`
	Pages    int       `json:"pages"`
	Commit   uint32    `json:"commit"`
	PageSize uint32    `json:"page_size"`
	Time     time.Time `json:"time"`
	// Error says why the file is not a valid LTX file (junk named like
	// one, a truncated upload...); the other fields then come from the
	// listing only.
	Error string `json:"error,omitempty"`
}

// lsLevel is one level of `strata ls`: its files taken together.
type lsLevel struct {
	Level   int    `json:"level"`
	Files   int    `json:"files"`
	MinTXID string `json:"min_txid"`
	MaxTXID string `json:"max_txid"`
	Size    int64  `json:"size"`
}

// lsLatest is the latest state and what a restore of it reads.
type lsLatest struct {
	TXID  string `json:"txid,omitempty"`
	Files int    `json:"files,omitempty"`
	Size  int64  `json:"size,omitempty"`
	// Error says why no chain of files reaches the newest TXID.
	Error string `json:"error,omitempty"`
}

// lsOutput is what `strata ls -json` prints.
type lsOutput struct {
	URL    string    `json:"url"`
	Levels []lsLevel `json:"levels"`
	Latest *lsLatest `json:"latest,omitempty"`
	Files  []lsEntry `json:"files,omitempty"`
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ls", "ls [-s] [-json] URL", stderr)
	summary := fs.Bool("s", false, "summary only: the levels, from the listing alone (reads no file)")
	asJSON := fs.Bool("json", false, `print one JSON object: "levels", "latest" and (without -s) "files"`)
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	if err := checkReplicaURL(pos[0]); err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[0])
	if err != nil {
		return err
	}
	defer r.Store.Close()
	files, err := r.Files(ctx)
	if err != nil {
		return err
	}
	out := lsOutput{URL: r.String(), Levels: levels(files), Latest: latest(files)}
	if !*summary {
		if out.Files, err = entries(ctx, r, files); err != nil {
			return err
		}
	}
	bad := 0
	for _, e := range out.Files {
		if e.Error != "" {
			bad++
		}
	}
	if *asJSON {
		if out.Levels == nil {
			out.Levels = []lsLevel{}
		}
		if out.Files == nil && !*summary {
			out.Files = []lsEntry{}
		}
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if err := enc.Encode(out); err != nil {
			return err
		}
	} else if err := printLs(stdout, out, *summary); err != nil {
		return err
	}
	if bad > 0 {
		fmt.Fprintf(stderr, "strata ls: %d of %d files are not valid LTX files (marked above); readers and the compactor skip them\n", bad, len(files))
	}
	return nil
}

func printLs(w io.Writer, out lsOutput, summary bool) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tFILES\tMIN_TXID\tMAX_TXID\tSIZE")
	for _, l := range out.Levels {
		fmt.Fprintf(tw, "%d\t%d\t%s\t%s\t%s\n", l.Level, l.Files, l.MinTXID, l.MaxTXID, compact.Bytes(l.Size))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	switch l := out.Latest; {
	case l == nil:
		fmt.Fprintln(w, "no files")
	case l.Error != "":
		fmt.Fprintf(w, "latest: %s\n", l.Error)
	default:
		files := "files"
		if l.Files == 1 {
			files = "file"
		}
		fmt.Fprintf(w, "latest: TXID %s, a restore reads %d %s (%s)\n", l.TXID, l.Files, files, compact.Bytes(l.Size))
	}
	if summary || len(out.Files) == 0 {
		return nil
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tMIN_TXID\tMAX_TXID\tSIZE\tPAGES\tCOMMIT\tTIME")
	for _, e := range out.Files {
		if e.Error != "" {
			fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t-\t-\tNOT AN LTX FILE: %s\n", e.Level, e.MinTXID, e.MaxTXID, e.Size, e.Error)
			continue
		}
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\n", e.Level, e.MinTXID, e.MaxTXID, e.Size, e.Pages, e.Commit, e.Time.Format(time.RFC3339Nano))
	}
	return tw.Flush()
}

// levels sums up each level that has files.
func levels(files []storage.FileInfo) []lsLevel {
	var out []lsLevel
	for level := 0; level <= storage.MaxLevel; level++ {
		l := lsLevel{Level: level}
		var lo, hi ltx.TXID
		for _, f := range files {
			if f.Level != level {
				continue
			}
			if l.Files == 0 || f.MinTXID < lo {
				lo = f.MinTXID
			}
			hi = max(hi, f.MaxTXID)
			l.Files++
			l.Size += f.Size
		}
		if l.Files > 0 {
			l.MinTXID, l.MaxTXID = lo.String(), hi.String()
			out = append(out, l)
		}
	}
	return out
}

// latest plans the latest state from the listing alone.
func latest(files []storage.FileInfo) *lsLatest {
	if len(files) == 0 {
		return nil
	}
	plan, err := replica.BuildPlan(files, 0)
	if err != nil {
		return &lsLatest{Error: err.Error()}
	}
	l := &lsLatest{TXID: plan.TXID.String(), Files: len(plan.Files)}
	for _, f := range plan.Files {
		l.Size += f.Size
	}
	return l
}

// entries reads the header and index of every file, 16 at a time. A file
// that is not a valid LTX file is marked, not fatal; one deleted since the
// listing (a compactor at work) is left out; a storage error is fatal.
func entries(ctx context.Context, r *replica.Replica, files []storage.FileInfo) ([]lsEntry, error) {
	out := make([]*lsEntry, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, f := range files {
		g.Go(func() error {
			e := &lsEntry{Level: f.Level, MinTXID: f.MinTXID.String(), MaxTXID: f.MaxTXID.String(), Size: f.Size, Time: f.ModTime.UTC()}
			x, err := r.Index(gctx, f)
			var ce *replica.CorruptError
			switch {
			case errors.As(err, &ce):
				e.Error = ce.Err.Error()
			case errors.Is(err, storage.ErrNotFound):
				return nil
			case err != nil:
				return err
			default:
				e.Pages, e.Commit, e.PageSize = len(x.Frames), x.Header.Commit, x.Header.PageSize
				e.Time = time.UnixMilli(x.Header.Timestamp).UTC()
			}
			out[i] = e
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	var list []lsEntry
	for _, e := range out {
		if e != nil {
			list = append(list, *e)
		}
	}
	return list, nil
}

// checkReplicaURL refuses, before anything is opened, a local path that is
// a file rather than a directory: most likely a database given where its
// replica was meant.
func checkReplicaURL(raw string) error {
	path := raw
	if strings.HasPrefix(raw, "file://") {
		u, err := url.Parse(raw)
		if err != nil {
			return nil // opening reports it
		}
		path = filepath.FromSlash(u.Path)
	} else if strings.Contains(raw, "://") {
		return nil
	}
	st, err := os.Stat(path)
	if err != nil || st.IsDir() {
		return nil
	}
	hint := ""
	if isSQLite(path) {
		hint = fmt.Sprintf("; it is a SQLite database: `strata import %s URL` uploads it to a replica", raw)
	}
	return fmt.Errorf("%w: %s is a file, not a replica: expected a replica URL (a directory, file:///dir or s3://bucket/prefix)%s", errUsage, raw, hint)
}

func isSQLite(path string) bool {
	fh, err := os.Open(path)
	if err != nil {
		return false
	}
	defer fh.Close()
	b := make([]byte, 16)
	_, err = io.ReadFull(fh, b)
	return err == nil && string(b) == "SQLite format 3\x00"
}
