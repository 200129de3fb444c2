package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"time"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// Generate returns the dataset for p from the cache under cacheRoot,
// generating it first if it is not there. Generation happens in a
// temporary directory renamed into place at the end, so an interrupted
// run never leaves a half-made dataset behind to be reused.
func Generate(ctx context.Context, cacheRoot string, p Params) (*Dataset, error) {
	p = p.withDefaults()
	if p.SizeMiB <= 0 || p.L0 < 0 {
		return nil, fmt.Errorf("dataset: size must be positive and L0 not negative (%+v)", p)
	}
	dir := filepath.Join(cacheRoot, p.Key())
	if d, err := load(dir); err == nil || !isMissing(err) {
		return d, err
	}
	if err := os.MkdirAll(cacheRoot, 0o755); err != nil {
		return nil, err
	}
	tmp, err := os.MkdirTemp(cacheRoot, ".tmp-"+p.Key()+"-")
	if err != nil {
		return nil, err
	}
	defer os.RemoveAll(tmp) // a no-op once renamed
	if err := build(ctx, tmp, p); err != nil {
		return nil, fmt.Errorf("generate dataset %s: %w", p.Key(), err)
	}
	if err := os.Rename(tmp, dir); err != nil {
		// Another run may have finished the same dataset first.
		if d, lerr := load(dir); lerr == nil {
			return d, nil
		}
		return nil, err
	}
	return load(dir)
}

// build generates the dataset into dir: the database, its snapshot, the
// level-0 transactions, and meta.json last.
func build(ctx context.Context, dir string, p Params) error {
	start := time.Now()
	rng := rand.New(rand.NewPCG(p.Seed, 0x5717a7a))
	dbPath := filepath.Join(dir, "final.db")
	rows, err := create(ctx, dbPath, p, rng)
	if err != nil {
		return err
	}
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		return err
	}
	if _, err := replica.New(store).Import(ctx, dbPath); err != nil {
		return err
	}
	rows, err = stackTxns(ctx, dbPath, store, p, rows, rng)
	if err != nil {
		return err
	}
	m, err := describe(dbPath, uint32(p.PageSize))
	if err != nil {
		return err
	}
	m.Params, m.Rows, m.Files, m.MaxTXID = p, rows, 1+p.L0, uint64(1+p.L0)
	m.Took = time.Since(start)
	return saveMeta(dir, m)
}

// create makes the database at path with the table filled to size.
func create(ctx context.Context, path string, p Params, rng *rand.Rand) (int64, error) {
	db, err := openWork(path, p.PageSize)
	if err != nil {
		return 0, err
	}
	defer db.Close()
	return fill(ctx, db, int64(p.SizeMiB)<<20, rng)
}

// stackTxns runs p.L0 small transactions on the database at path and
// writes each as a level-0 LTX file to store, TXIDs 2, 3, ... after the
// snapshot. It returns the number of rows afterwards.
func stackTxns(ctx context.Context, path string, store storage.Backend, p Params, rows int64, rng *rand.Rand) (int64, error) {
	hashes, err := NewPageHashes(path, uint32(p.PageSize))
	if err != nil {
		return rows, err
	}
	db, err := openWork(path, p.PageSize)
	if err != nil {
		return rows, err
	}
	defer db.Close()
	last := time.Now()
	for i := range p.L0 {
		if rows, err = smallTxn(ctx, db, rows, rng); err != nil {
			return rows, err
		}
		// Commit times must grow with TXIDs, at millisecond precision.
		last = later(time.Now(), last.Add(time.Millisecond))
		if err := writeChanges(ctx, path, hashes, store, ltx.TXID(i+2), last); err != nil {
			return rows, err
		}
	}
	return rows, nil
}

// writeChanges finds the pages the last transaction changed and uploads
// them as the level-0 file of txid.
func writeChanges(ctx context.Context, path string, hashes *PageHashes, store storage.Backend, txid ltx.TXID, ts time.Time) error {
	pages, commit, err := hashes.Update(path)
	if err != nil {
		return err
	}
	t := Txn{TXID: txid, PageSize: hashes.pageSize, Commit: commit, Timestamp: ts, Pages: pages}
	_, err = WriteTxn(ctx, store, t)
	return err
}

// describe measures the final database: size and the shape of its trees.
func describe(path string, pageSize uint32) (Meta, error) {
	m := Meta{PageSize: pageSize}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return m, err
	}
	defer db.Close()
	roots := map[string]*Tree{Table: &m.Table, Index: &m.Index}
	f, err := os.Open(path)
	if err != nil {
		return m, err
	}
	defer f.Close()
	for name, t := range roots {
		var root uint32
		if err := db.QueryRow("SELECT rootpage FROM sqlite_master WHERE name = ?", name).Scan(&root); err != nil {
			return m, fmt.Errorf("root page of %s: %w", name, err)
		}
		if *t, err = walkTree(f, pageSize, root); err != nil {
			return m, fmt.Errorf("walk %s: %w", name, err)
		}
	}
	st, err := f.Stat()
	if err != nil {
		return m, err
	}
	m.Bytes, m.Pages = st.Size(), uint32(st.Size()/int64(pageSize))
	return m, nil
}

func later(a, b time.Time) time.Time {
	if a.After(b) {
		return a
	}
	return b
}
