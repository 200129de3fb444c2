package main

import (
	"database/sql"
	"fmt"
	"strings"
	"time"
)

// A workload is what one fixture's writer does while litestream copies it.
type workload struct {
	name     string
	pageSize int
	schema   []string // run before replication starts: TXID 1
	check    string   // two integers recorded per state (count and sum)
	tables   []string // what fixture.Checksum covers
	steps    []step
	// config is the litestream.yml text outside `dbs:`: compaction levels,
	// snapshots and retention, chosen to give the fixture its levels.
	config string
	// levelsReady reports whether the replica, after the last step, has the
	// files above level 0 the fixture is meant to show; the generator waits
	// for it before stopping litestream.
	levelsReady func(files []replFile, last uint64) (bool, string)
}

// A step is one transaction (or one VACUUM, which SQLite runs outside a
// transaction): one state of truth.json, one TXID.
type step struct {
	after string
	run   func(tx execer) error // nil for a VACUUM
}

// execer is a *sql.Tx.
type execer interface {
	Exec(query string, args ...any) (sql.Result, error)
}

func vacuum(after string) step { return step{after: after} }

// Retention long enough that litestream deletes nothing while the
// generator runs: every level-0 file stays, so every TXID can be restored.
const keepEverything = `
l0-retention: 1h
l0-retention-check-interval: 1h
`

// shop: orders and blobs, transactions of very different sizes, a large
// blob, deletes, a VACUUM that shrinks the file. Short compaction and
// snapshot intervals so that levels 1, 2 and 9 all hold files covering
// more than TXID 1, and a snapshot sits in the middle of the history.
var shop = workload{
	name:     "shop",
	pageSize: 4096,
	schema: []string{
		`create table orders(id integer primary key, customer text not null, cents integer not null, placed_at text not null)`,
		`create index orders_customer on orders(customer)`,
		`create table blobs(id integer primary key, name text not null, data blob not null)`,
	},
	check:  `select count(*), sum(cents) from orders`,
	tables: []string{"orders", "blobs"},
	steps: []step{
		{"insert 1 order", insertOrders(1, 1)},
		{"insert 250 orders", insertOrders(2, 251)},
		{"insert 2000 orders", insertOrders(252, 2251)},
		{"update 1 order in 10", execSQL(`update orders set cents = cents + 1 where id % 10 = 3`)},
		{"insert a 1.5 MiB blob", insertBlob(1, "catalog.bin", 1536<<10)},
		{"insert 40 orders and a small blob", func(tx execer) error {
			if err := insertOrders(2252, 2291)(tx); err != nil {
				return err
			}
			return insertBlob(2, "logo.png", 3000)(tx)
		}},
		{"delete 1 order in 5", execSQL(`delete from orders where id % 5 = 0`)},
		{"delete the large blob", execSQL(`delete from blobs where id = 1`)},
		vacuum("vacuum"),
		{"insert 600 orders", insertOrders(2292, 2891)},
		{"delete the orders of customer-07", execSQL(`delete from orders where customer = 'customer-07'`)},
		{"insert 1 order", insertOrders(2892, 2892)},
	},
	config: keepEverything + `
snapshot:
  interval: 7s
  retention: 1h
levels:
  - interval: 2s
  - interval: 5s
`,
	levelsReady: func(files []replFile, last uint64) (bool, string) {
		var l1, l2, midSnapshot bool
		for _, f := range files {
			switch {
			case f.level == 1 && f.max == last:
				l1 = true
			case f.level == 2 && f.max > 1:
				l2 = true
			case f.level == 9 && f.max > 1 && f.max < last:
				midSnapshot = true
			}
		}
		return l1 && l2 && midSnapshot, fmt.Sprintf("level 1 up to the last TXID: %v, level 2 past TXID 1: %v, a level-9 snapshot between TXID 1 and the last: %v", l1, l2, midSnapshot)
	},
}

// regrow: page size 512; the file grows past 4096 pages (one chunk of the
// VFS's page index), shrinks to a few dozen pages by VACUUM, and grows past
// 4096 pages again. Compaction and snapshots run only at start (TXID 1), so
// every later state is read through a batch of level-0 files that drops a
// chunk and then needs it again.
var regrow = workload{
	name:     "regrow",
	pageSize: 512,
	schema: []string{
		`create table t(id integer primary key, n integer not null, v text not null)`,
	},
	check:  `select count(*), sum(n) from t`,
	tables: []string{"t"},
	steps: []step{
		{"insert 13000 rows", insertRows(1, 13000)},
		{"update the last 100 rows", execSQL(`update t set n = n + 1000000, v = upper(v) where id > 12900`)},
		{"delete all but 200 rows", execSQL(`delete from t where id > 200`)},
		vacuum("vacuum"),
		{"insert 12000 rows", insertRows(13001, 25000)},
	},
	config: keepEverything + `
snapshot:
  interval: 24h
  retention: 24h
levels:
  - interval: 24h
`,
	levelsReady: func(files []replFile, last uint64) (bool, string) {
		for _, f := range files {
			if f.level > 0 && f.max > 1 {
				return false, fmt.Sprintf("%s covers more than TXID 1: litestream compacted during the run (a 24 h boundary?); run again", f)
			}
		}
		return true, ""
	},
}

var workloads = []workload{shop, regrow}

func execSQL(q string) func(execer) error {
	return func(tx execer) error {
		_, err := tx.Exec(q)
		return err
	}
}

// insertOrders inserts orders lo..hi; every value derives from the id, so
// the contents (and checksums) are the same on every run.
func insertOrders(lo, hi int) func(execer) error {
	return func(tx execer) error {
		base := time.Date(2026, 1, 1, 0, 0, 0, 0, time.UTC)
		for id := lo; id <= hi; id++ {
			_, err := tx.Exec(`insert into orders(id, customer, cents, placed_at) values (?, ?, ?, ?)`,
				id, fmt.Sprintf("customer-%02d", id%37), 100+(id*7919)%50000,
				base.Add(time.Duration(id)*17*time.Minute).Format(time.RFC3339))
			if err != nil {
				return fmt.Errorf("insert order %d: %w", id, err)
			}
		}
		return nil
	}
}

// insertBlob inserts a blob of size bytes: numbered text lines, so that it
// spans hundreds of overflow pages yet compresses well in LTX files (the
// fixture stays small).
func insertBlob(id int, name string, size int) func(execer) error {
	return func(tx execer) error {
		var b strings.Builder
		for line := 0; b.Len() < size; line++ {
			fmt.Fprintf(&b, "%s line %07d: the quick brown fox jumps over the lazy dog\n", name, line)
		}
		data := []byte(b.String())[:size]
		_, err := tx.Exec(`insert into blobs(id, name, data) values (?, ?, ?)`, id, name, data)
		return err
	}
}

// insertRows inserts rows lo..hi of table t, each about 150 bytes.
func insertRows(lo, hi int) func(execer) error {
	return func(tx execer) error {
		for id := lo; id <= hi; id++ {
			v := strings.Repeat(fmt.Sprintf("%07d.", id), 17) // 136 bytes
			if _, err := tx.Exec(`insert into t(id, n, v) values (?, ?, ?)`, id, id*3%1000, v); err != nil {
				return fmt.Errorf("insert row %d: %w", id, err)
			}
		}
		return nil
	}
}
