// Package dataset generates the benchmark's databases: a table of ~100-byte
// rows with a secondary index, grown to a target size, imported as a
// snapshot, with a number of small level-0 transactions on top. Generated
// datasets are cached on disk as ready-made replicas (Litestream's file
// layout), keyed by their parameters, so repeated runs only upload them.
package dataset

import (
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"time"
)

// Params determine a dataset completely: equal Params, equal database.
type Params struct {
	SizeMiB  int    `json:"size_mib"`  // target database size
	L0       int    `json:"l0"`        // small transactions after the snapshot
	PageSize int    `json:"page_size"` // 0 means 4096
	Seed     uint64 `json:"seed"`
}

// formatVersion changes whenever generation changes, so that stale cached
// datasets are not reused.
const formatVersion = 1

func (p Params) withDefaults() Params {
	if p.PageSize == 0 {
		p.PageSize = 4096
	}
	return p
}

// Key names the dataset in the cache directory.
func (p Params) Key() string {
	p = p.withDefaults()
	return fmt.Sprintf("rows-%dmib-l0-%d-ps%d-seed%d-v%d", p.SizeMiB, p.L0, p.PageSize, p.Seed, formatVersion)
}

// Meta is what generation learned about a dataset; it is stored beside it.
type Meta struct {
	Params   Params        `json:"params"`
	PageSize uint32        `json:"page_size"`
	Pages    uint32        `json:"pages"` // database size after the last TXID
	Rows     int64         `json:"rows"`  // row ids are 1..Rows
	Files    int           `json:"files"` // LTX files: 1 snapshot + L0
	MaxTXID  uint64        `json:"max_txid"`
	Table    Tree          `json:"table"` // the rows table's B-tree
	Index    Tree          `json:"index"` // the rows_k index's B-tree
	Bytes    int64         `json:"bytes"` // the final database file's size
	Took     time.Duration `json:"generate_ns"`
}

// Dataset is a generated dataset in the cache.
type Dataset struct {
	Dir  string
	Meta Meta
}

// ReplicaDir is the dataset as a replica in the file layout.
func (d *Dataset) ReplicaDir() string { return filepath.Join(d.Dir, "replica") }

// LocalDB is a plain SQLite file holding the dataset's final state, to
// compare the VFS against local SQLite. Open it read-only.
func (d *Dataset) LocalDB() string { return filepath.Join(d.Dir, "final.db") }

const metaFile = "meta.json"

// load returns the cached dataset in dir, or fs.ErrNotExist.
func load(dir string) (*Dataset, error) {
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	if err != nil {
		return nil, err
	}
	d := &Dataset{Dir: dir}
	if err := json.Unmarshal(b, &d.Meta); err != nil {
		return nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
	}
	return d, nil
}

func saveMeta(dir string, m Meta) error {
	b, err := json.MarshalIndent(m, "", "  ")
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, metaFile), append(b, '\n'), 0o644)
}

// isMissing reports whether err means "not generated yet".
func isMissing(err error) bool { return errors.Is(err, fs.ErrNotExist) }
