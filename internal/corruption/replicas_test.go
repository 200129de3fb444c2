package corruption_test

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"strconv"
	"sync"
	"testing"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/strata-db/strata/vfs"
	"github.com/superfly/ltx"
)

// corpus is a replica written once per test binary, with what each of its
// states must read as.
type corpus struct {
	name   string
	dir    string             // the replica; copy it before damaging it
	files  []storage.FileInfo // every file, in TXID order
	latest ltx.TXID
	truth  map[ltx.TXID]string // digest of the database at each TXID
}

// readWhole is the size up to which the read path fetches a file whole
// (and so verifies it); larger files are read by range.
const readWhole = 64 << 10

// buildCorpus writes a replica with ltxtest: commits of inserts, transfers
// between accounts, deletes. Large pads make large files. stamps, when
// set, are the commit times of TXIDs 1, 2, ...
func buildCorpus(t testing.TB, name string, large bool, stamps []time.Time) *corpus {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	var opts []ltxtest.Option
	if stamps != nil {
		next := 0
		opts = append(opts, ltxtest.Clock(func() time.Time { next++; return stamps[next-1] }))
	}
	w := ltxtest.NewWriter(t, store, filepath.Join(dir, "local.db"), opts...)
	c := &corpus{name: name, dir: filepath.Join(dir, "replica"), truth: map[ltx.TXID]string{}}
	rng := rand.New(rand.NewPCG(7, 11))
	pad, rows := 60, 30
	if large {
		pad, rows = 1500, 120
	}
	blob := func() []byte {
		b := make([]byte, pad)
		for i := range b {
			b[i] = byte(rng.Uint32())
		}
		return b
	}
	db := w.DB()
	step := func(stmts func(tx *sql.Tx) error) error {
		tx, err := db.Begin()
		if err != nil {
			return err
		}
		if err := stmts(tx); err != nil {
			tx.Rollback()
			return err
		}
		if err := tx.Commit(); err != nil {
			return err
		}
		f, err := w.TryCommit()
		if err != nil {
			return err
		}
		c.files = append(c.files, f)
		c.latest = f.MaxTXID
		c.truth[f.MaxTXID], err = digest(context.Background(), db)
		return err
	}
	insert := func(tx *sql.Tx, from, n int) error {
		for id := from; id < from+n; id++ {
			if _, err := tx.Exec(`insert into acct(id, bal, pad) values (?, ?, ?)`, id, 1000, blob()); err != nil {
				return err
			}
		}
		return nil
	}
	steps := []func(tx *sql.Tx) error{
		func(tx *sql.Tx) error {
			if _, err := tx.Exec(`create table acct(id integer primary key, bal integer not null, pad blob); create index acct_bal on acct(bal)`); err != nil {
				return err
			}
			return insert(tx, 1, rows)
		},
		func(tx *sql.Tx) error { // transfers
			_, err := tx.Exec(`update acct set bal = bal - 7 where id = 3; update acct set bal = bal + 7 where id = 11`)
			return err
		},
		func(tx *sql.Tx) error { // every other pad rewritten: a large file when pads are large
			for id := 2; id <= rows; id += 2 {
				if _, err := tx.Exec(`update acct set pad = ? where id = ?`, blob(), id); err != nil {
					return err
				}
			}
			return nil
		},
		func(tx *sql.Tx) error { return insert(tx, rows+1, rows/2) },
		func(tx *sql.Tx) error {
			_, err := tx.Exec(`delete from acct where id in (5, 6); update acct set bal = bal + 1 where id = 1`)
			return err
		},
	}
	for i, s := range steps {
		if err := step(s); err != nil {
			t.Fatalf("corpus %s, step %d: %v", name, i+1, err)
		}
	}
	return c
}

// querier runs queries: a *sql.DB or a *sql.Conn.
type querier interface {
	QueryContext(ctx context.Context, query string, args ...any) (*sql.Rows, error)
}

// digest sums up everything a query can see of acct: every row in id
// order (table pages) and every entry of the index in index order (index
// pages).
func digest(ctx context.Context, db querier) (string, error) {
	h := sha256.New()
	for _, q := range []string{
		`select id, bal, pad from acct order by id`,
		`select id, bal, null from acct indexed by acct_bal where bal > -1000000000 order by bal, id`,
	} {
		rows, err := db.QueryContext(ctx, q)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var id, bal int64
			var pad []byte
			if err := rows.Scan(&id, &bal, &pad); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(h, "%d|%d|%x\n", id, bal, pad)
		}
		if err := rows.Close(); err != nil {
			return "", err
		}
		if err := rows.Err(); err != nil {
			return "", err
		}
		h.Write([]byte("--\n"))
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}

// fileName is where f lives in a directory replica.
func fileName(dir string, f storage.FileInfo) string {
	return filepath.Join(dir, "ltx", strconv.Itoa(f.Level), f.Name())
}

// copyReplica copies a corpus's replica to a new directory.
func copyReplica(t testing.TB, c *corpus) string {
	t.Helper()
	dst := filepath.Join(t.TempDir(), "replica")
	if err := os.CopyFS(dst, os.DirFS(c.dir)); err != nil {
		t.Fatal(err)
	}
	return dst
}

var (
	vfsOnce sync.Once
	theVFS  *vfs.VFS
	vfsErr  error
)

// strataVFS registers the strata VFS once per process.
func strataVFS(t testing.TB) *vfs.VFS {
	t.Helper()
	vfsOnce.Do(func() { theVFS, vfsErr = vfs.Register(vfs.Config{}) })
	if vfsErr != nil {
		t.Fatal(vfsErr)
	}
	return theVFS
}

// queryVFS opens the replica in dir through the strata VFS (URI
// parameters as name, value pairs), and returns the digest of what it
// reads and the TXID it read, or the error with the VFS's reason.
func queryVFS(t testing.TB, dir string, params ...string) (sum string, txid string, err error) {
	t.Helper()
	v := strataVFS(t)
	db, err := sql.Open("sqlite3", vfs.URI(dir, params...))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1)
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		return "", "", withReason(err, v)
	}
	defer conn.Close()
	if err := conn.QueryRowContext(ctx, `PRAGMA strata_txid`).Scan(&txid); err != nil {
		return "", "", withReason(err, v)
	}
	if sum, err = digest(ctx, conn); err != nil {
		return "", "", withReason(err, v)
	}
	return sum, txid, nil
}

// withReason joins SQLite's error with the VFS's last error, which says
// why (SQLite reports only "disk I/O error" or "unable to open").
func withReason(err error, v *vfs.VFS) error {
	if le := v.LastError(); le != nil {
		return fmt.Errorf("%w (strata: %w)", err, le)
	}
	return err
}

// restoreLatest restores the latest state of the replica in dir the way
// `strata restore` does (planning around corrupt files), and returns the
// plan and the digest of the restored database.
func restoreLatest(t testing.TB, dir string) (replica.Plan, string, error) {
	t.Helper()
	ctx := context.Background()
	store, err := filestore.New(dir)
	if err != nil {
		t.Fatal(err)
	}
	r := replica.New(store)
	r.Retry = storage.RetryPolicy{Attempts: 2}
	files, err := r.Files(ctx)
	if err != nil {
		return replica.Plan{}, "", err
	}
	out := filepath.Join(t.TempDir(), "restored.db")
	plan, err := r.PlanAround(ctx, files, replica.Latest(), nil, func(p replica.Plan) error {
		f, err := os.Create(out)
		if err != nil {
			return err
		}
		defer f.Close()
		return r.Restore(ctx, p, f, replica.RestoreOptions{})
	})
	if err != nil {
		return plan, "", err
	}
	sum, err := digestFile(ctx, out)
	return plan, sum, err
}

// digestFile is the digest of a database file.
func digestFile(ctx context.Context, path string) (string, error) {
	// A plain path, not a file: URI: fuzz test directories hold '#'.
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return "", err
	}
	defer db.Close()
	return digest(ctx, db)
}
