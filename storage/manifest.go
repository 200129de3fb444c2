package storage

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"time"

	"github.com/superfly/ltx"
)

// ManifestName is the metadata object that lists a replica's files for
// readers that cannot list (a static web server). It sits at the replica's
// root, beside the level folders.
const ManifestName = "strata-manifest.json"

// ManifestVersion is the version of the manifest format written here.
const ManifestVersion = 1

// Manifest is the content of ManifestName: a small JSON document
//
//	{
//	  "version": 1,
//	  "layout": "file",
//	  "latest_txid": "000000000000002a",
//	  "generated": "2026-11-24T10:00:00Z",
//	  "files": [
//	    {"level": 9, "min_txid": "0000000000000001", "max_txid": "0000000000000028", "size": 81234},
//	    {"level": 0, "min_txid": "0000000000000029", "max_txid": "0000000000000029", "size": 4321,
//	     "mod_time": "2026-11-24T09:59:58Z"}
//	  ]
//	}
//
// layout says where the files are relative to the root ("file":
// ltx/<level>/<min>-<max>.ltx; "s3": <level as %04x>/<min>-<max>.ltx), so a
// manifest written into any backend can be served as it is by a web server
// in front of that backend. latest_txid is the highest max_txid of any
// file (0 for an empty replica). TXIDs are 16 lower-case hex digits, as
// in file names. mod_time is the storage modification time, a hint only.
type Manifest struct {
	Version    int            `json:"version"`
	Layout     Layout         `json:"layout"`
	LatestTXID ltx.TXID       `json:"latest_txid"`
	Generated  time.Time      `json:"generated"`
	Files      []ManifestFile `json:"files"`
}

// ManifestFile is one LTX file in a Manifest.
type ManifestFile struct {
	Level   int        `json:"level"`
	MinTXID ltx.TXID   `json:"min_txid"`
	MaxTXID ltx.TXID   `json:"max_txid"`
	Size    int64      `json:"size"`
	ModTime *time.Time `json:"mod_time,omitempty"`
}

// NewManifest describes files laid out in layout.
func NewManifest(layout Layout, files []FileInfo) *Manifest {
	m := &Manifest{Version: ManifestVersion, Layout: layout, Generated: time.Now().UTC(), Files: []ManifestFile{}}
	for _, f := range files {
		mf := ManifestFile{Level: f.Level, MinTXID: f.MinTXID, MaxTXID: f.MaxTXID, Size: f.Size}
		if !f.ModTime.IsZero() {
			t := f.ModTime.UTC()
			mf.ModTime = &t
		}
		m.Files = append(m.Files, mf)
		m.LatestTXID = max(m.LatestTXID, f.MaxTXID)
	}
	return m
}

// ParseManifest decodes and checks a manifest.
func ParseManifest(data []byte) (*Manifest, error) {
	var m Manifest
	if err := json.Unmarshal(data, &m); err != nil {
		return nil, fmt.Errorf("manifest: %w", err)
	}
	if m.Version != ManifestVersion {
		return nil, fmt.Errorf("manifest: version %d not supported (this strata reads version %d)", m.Version, ManifestVersion)
	}
	if m.Layout != LayoutFile && m.Layout != LayoutS3 {
		return nil, fmt.Errorf("manifest: unknown layout %q (want %q or %q)", m.Layout, LayoutFile, LayoutS3)
	}
	var latest ltx.TXID
	for _, f := range m.Files {
		if f.Level < 0 || f.Level > MaxLevel || f.MinTXID == 0 || f.MinTXID > f.MaxTXID || f.Size < 0 {
			return nil, fmt.Errorf("manifest: invalid file entry (level %d, %s-%s, size %d)", f.Level, f.MinTXID, f.MaxTXID, f.Size)
		}
		latest = max(latest, f.MaxTXID)
	}
	if latest != m.LatestTXID {
		return nil, fmt.Errorf("manifest: latest_txid %s does not match its files (highest %s)", m.LatestTXID, latest)
	}
	return &m, nil
}

// List returns the files of level whose MinTXID >= from, in List order.
func (m *Manifest) List(level int, from ltx.TXID) []FileInfo {
	var files []FileInfo
	for _, f := range m.Files {
		if f.Level == level && f.MinTXID >= from {
			files = append(files, f.info())
		}
	}
	SortFiles(files)
	return files
}

// All returns every file, ordered by level, then in List order.
func (m *Manifest) All() []FileInfo {
	var files []FileInfo
	for level := 0; level <= MaxLevel; level++ {
		files = append(files, m.List(level, 0)...)
	}
	return files
}

func (f ManifestFile) info() FileInfo {
	fi := FileInfo{Level: f.Level, MinTXID: f.MinTXID, MaxTXID: f.MaxTXID, Size: f.Size}
	if f.ModTime != nil {
		fi.ModTime = *f.ModTime
	}
	return fi
}

// ListFiles lists every level of b: in one listing where b can, else level
// by level. It does not retry.
func ListFiles(ctx context.Context, b Backend) ([]FileInfo, error) {
	if al, ok := b.(AllLister); ok {
		return al.ListAll(ctx)
	}
	var all []FileInfo
	for level := 0; level <= MaxLevel; level++ {
		files, err := b.List(ctx, level, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
	}
	return all, nil
}

// WriteManifest lists b and writes the manifest of what it holds to b's
// root (ManifestName), so that the replica can be served by a static web
// server (see the http backend). Call it after every change to the files
// of a replica that is published that way; a stale manifest only hides
// the newest files from static readers. It returns the manifest written.
func WriteManifest(ctx context.Context, b Backend) (*Manifest, error) {
	l, ok := b.(Layouter)
	if !ok {
		return nil, fmt.Errorf("write manifest of %s: %w: the backend does not say its layout", b, errors.ErrUnsupported)
	}
	files, err := ListFiles(ctx, b)
	if err != nil {
		return nil, fmt.Errorf("write manifest of %s: %w", b, err)
	}
	return PutManifest(ctx, b, NewManifest(l.Layout(), files))
}

// PutManifest writes m as b's manifest, as it is: for a publisher that
// knows which files the manifest must list (e.g. those it copied, before
// it removes older ones).
func PutManifest(ctx context.Context, b Backend, m *Manifest) (*Manifest, error) {
	data, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return nil, err
	}
	if err := WriteMeta(ctx, b, ManifestName, append(data, '\n')); err != nil {
		return nil, fmt.Errorf("write manifest of %s: %w", b, err)
	}
	return m, nil
}
