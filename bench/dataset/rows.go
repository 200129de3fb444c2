package dataset

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"

	_ "github.com/mattn/go-sqlite3" // the "sqlite3" database/sql driver
)

// Table and Index name the benchmark's table and its secondary index.
const (
	Table = "rows"
	Index = "rows_k"
)

const schema = `CREATE TABLE rows(id INTEGER PRIMARY KEY, k TEXT NOT NULL, v BLOB NOT NULL);
CREATE INDEX rows_k ON rows(k);`

// ValueSize is the size of each row's v column. Values are random bytes,
// so LTX compression cannot make the benchmark look better than real data.
const ValueSize = 100

// Key is the k column of row id. It is a function of id so that a
// benchmark can look a row up by k without reading it first, and it is
// scattered so that index order has nothing to do with id order.
func Key(id int64) string {
	x := uint64(id)
	// splitmix64's finalizer: a bijection, so keys never collide.
	x ^= x >> 30
	x *= 0xbf58476d1ce4e5b9
	x ^= x >> 27
	x *= 0x94d049bb133111eb
	x ^= x >> 31
	return fmt.Sprintf("k%016x", x)
}

func value(rng *rand.Rand) []byte {
	b := make([]byte, ValueSize)
	for i := 0; i < len(b); i += 8 {
		x := rng.Uint64()
		for j := i; j < min(i+8, len(b)); j++ {
			b[j] = byte(x)
			x >>= 8
		}
	}
	return b
}

// openWork opens the database being generated on a single connection:
// rollback journal (what the VFS presents), no fsyncs (a crash just means
// regenerating), and a cache big enough for random index inserts.
func openWork(path string, pageSize int) (*sql.DB, error) {
	db, err := sql.Open("sqlite3", "file:"+path)
	if err != nil {
		return nil, err
	}
	db.SetMaxOpenConns(1)
	for _, pragma := range []string{
		fmt.Sprintf("PRAGMA page_size=%d", pageSize),
		"PRAGMA journal_mode=DELETE",
		"PRAGMA synchronous=OFF",
		"PRAGMA cache_size=-65536",
	} {
		if _, err := db.Exec(pragma); err != nil {
			db.Close()
			return nil, fmt.Errorf("%s: %s: %w", path, pragma, err)
		}
	}
	return db, nil
}

// fill creates the table and inserts rows until the file reaches
// targetBytes. It returns the number of rows, whose ids are 1..n.
func fill(ctx context.Context, db *sql.DB, targetBytes int64, rng *rand.Rand) (int64, error) {
	if _, err := db.ExecContext(ctx, schema); err != nil {
		return 0, fmt.Errorf("create schema: %w", err)
	}
	var n int64
	for {
		size, err := fileBytes(ctx, db)
		if err != nil {
			return n, err
		}
		if size >= targetBytes {
			return n, nil
		}
		// About 160 bytes per row with its index entry; smaller batches
		// near the end keep the overshoot small.
		batch := min(20000, (targetBytes-size)/160+100)
		if err := insertRows(ctx, db, n+1, batch, rng); err != nil {
			return n, err
		}
		n += batch
	}
}

func fileBytes(ctx context.Context, db *sql.DB) (int64, error) {
	var pages, pageSize int64
	if err := db.QueryRowContext(ctx, "PRAGMA page_count").Scan(&pages); err != nil {
		return 0, err
	}
	if err := db.QueryRowContext(ctx, "PRAGMA page_size").Scan(&pageSize); err != nil {
		return 0, err
	}
	return pages * pageSize, nil
}

// insertRows inserts rows first..first+count-1 in one transaction.
func insertRows(ctx context.Context, db *sql.DB, first, count int64, rng *rand.Rand) error {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return err
	}
	defer tx.Rollback()
	stmt, err := tx.PrepareContext(ctx, "INSERT INTO rows(id, k, v) VALUES (?, ?, ?)")
	if err != nil {
		return err
	}
	defer stmt.Close()
	for id := first; id < first+count; id++ {
		if _, err := stmt.ExecContext(ctx, id, Key(id), value(rng)); err != nil {
			return fmt.Errorf("insert row %d: %w", id, err)
		}
	}
	return tx.Commit()
}

// smallTxn is one of the small transactions stacked on the snapshot: it
// rewrites the value of a few random rows and appends one row, as an
// application's steady trickle of writes would. It returns the new row's id.
func smallTxn(ctx context.Context, db *sql.DB, maxID int64, rng *rand.Rand) (int64, error) {
	tx, err := db.BeginTx(ctx, nil)
	if err != nil {
		return 0, err
	}
	defer tx.Rollback()
	for range 3 {
		id := rng.Int64N(maxID) + 1
		if _, err := tx.ExecContext(ctx, "UPDATE rows SET v = ? WHERE id = ?", value(rng), id); err != nil {
			return 0, fmt.Errorf("update row %d: %w", id, err)
		}
	}
	id := maxID + 1
	if _, err := tx.ExecContext(ctx, "INSERT INTO rows(id, k, v) VALUES (?, ?, ?)", id, Key(id), value(rng)); err != nil {
		return 0, fmt.Errorf("insert row %d: %w", id, err)
	}
	return id, tx.Commit()
}
