package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"text/tabwriter"
	"time"

	"github.com/strata-db/strata/replica"
	"golang.org/x/sync/errgroup"
)

// lsEntry is one row of `strata ls`.
type lsEntry struct {
	Level    int       `json:"level"`
	MinTXID  string    `json:"min_txid"`
	MaxTXID  string    `json:"max_txid"`
	Size     int64     `json:"size"`
	Pages    int       `json:"pages"`
	Commit   uint32    `json:"commit"`
	PageSize uint32    `json:"page_size"`
	Time     time.Time `json:"time"`
}

func runLs(ctx context.Context, args []string, stdout, stderr io.Writer) error {
	fs := newFlags("ls", "ls [-json] URL", stderr)
	asJSON := fs.Bool("json", false, "print JSON, one array of files")
	pos, err := parseArgs(fs, args, 1)
	if err != nil {
		return err
	}
	r, err := openReplica(ctx, pos[0])
	if err != nil {
		return err
	}
	defer r.Store.Close()
	entries, err := listEntries(ctx, r)
	if err != nil {
		return err
	}
	if *asJSON {
		enc := json.NewEncoder(stdout)
		enc.SetIndent("", "  ")
		if entries == nil {
			entries = []lsEntry{}
		}
		return enc.Encode(entries)
	}
	tw := tabwriter.NewWriter(stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "LEVEL\tMIN_TXID\tMAX_TXID\tSIZE\tPAGES\tCOMMIT\tTIME")
	for _, e := range entries {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%d\t%d\t%d\t%s\n", e.Level, e.MinTXID, e.MaxTXID, e.Size, e.Pages, e.Commit, e.Time.Format(time.RFC3339Nano))
	}
	return tw.Flush()
}

// listEntries reads the header and index of every file, 16 at a time.
func listEntries(ctx context.Context, r *replica.Replica) ([]lsEntry, error) {
	files, err := r.Files(ctx)
	if err != nil {
		return nil, err
	}
	entries := make([]lsEntry, len(files))
	g, gctx := errgroup.WithContext(ctx)
	g.SetLimit(16)
	for i, f := range files {
		g.Go(func() error {
			x, err := r.Index(gctx, f)
			if err != nil {
				return err
			}
			entries[i] = lsEntry{
				Level: f.Level, MinTXID: f.MinTXID.String(), MaxTXID: f.MaxTXID.String(),
				Size: f.Size, Pages: len(x.Frames), Commit: x.Header.Commit, PageSize: x.Header.PageSize,
				Time: time.UnixMilli(x.Header.Timestamp).UTC(),
			}
			return nil
		})
	}
	if err := g.Wait(); err != nil {
		return nil, err
	}
	return entries, nil
}
