package storage

import (
	"fmt"
	"strconv"
	"strings"

	"github.com/superfly/ltx"
)

// Layout names how LTX files are laid out under a replica's root. The two
// layouts are Litestream 0.5's, which differ per backend.
type Layout string

const (
	// LayoutFile is <root>/ltx/<level in decimal>/<minTXID>-<maxTXID>.ltx,
	// written by Litestream's file, GCS and Azure clients.
	LayoutFile Layout = "file"
	// LayoutS3 is <root>/<level as 4 hex digits>/<minTXID>-<maxTXID>.ltx,
	// written by Litestream's S3 client.
	LayoutS3 Layout = "s3"
)

// Layouter is implemented by backends that keep LTX files in one of the
// layouts (all of this module's backends).
type Layouter interface {
	Layout() Layout
}

// LevelDir is the folder of a level relative to the root, without a
// trailing slash: "ltx/0" or "0000".
func (l Layout) LevelDir(level int) string {
	if l == LayoutS3 {
		return fmt.Sprintf("%04x", level)
	}
	return "ltx/" + strconv.Itoa(level)
}

// Path is the path of f relative to the root.
func (l Layout) Path(f FileInfo) string { return l.LevelDir(f.Level) + "/" + f.Name() }

// ParsePath reads a path relative to the root; ok is false for anything
// that is not an LTX file of a valid level in this layout.
func (l Layout) ParsePath(rel string) (f FileInfo, ok bool) {
	dir, name, found := strings.Cut(rel, "/")
	var level uint64
	var err error
	switch l {
	case LayoutS3:
		if !found || len(dir) != 4 {
			return f, false
		}
		level, err = strconv.ParseUint(dir, 16, 8)
	case LayoutFile:
		if !found || dir != "ltx" {
			return f, false
		}
		var lvl string
		if lvl, name, found = strings.Cut(name, "/"); !found || lvl == "" || (len(lvl) > 1 && lvl[0] == '0') {
			return f, false
		}
		level, err = strconv.ParseUint(lvl, 10, 8)
	default:
		return f, false
	}
	if err != nil || level > MaxLevel {
		return f, false
	}
	minTXID, maxTXID, err := ltx.ParseFilename(name)
	if err != nil {
		return f, false
	}
	return FileInfo{Level: int(level), MinTXID: minTXID, MaxTXID: maxTXID}, true
}

// StartAfter is the key, relative to the root, after which a
// lexicographically ordered listing of level holds exactly the files with
// MinTXID >= from (TXIDs are fixed-width hex, so names sort by MinTXID).
// It is "" when from <= 1: list from the start.
func (l Layout) StartAfter(level int, from ltx.TXID) string {
	if from <= 1 {
		return ""
	}
	return l.LevelDir(level) + "/" + ltx.FormatFilename(from-1, ^ltx.TXID(0))
}

// JoinKey joins a prefix (no leading or trailing slash; may be empty) and a
// relative path into an object key.
func JoinKey(prefix, rel string) string {
	if prefix == "" {
		return rel
	}
	return prefix + "/" + rel
}
