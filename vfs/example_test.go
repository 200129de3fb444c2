package vfs_test

import (
	"database/sql"
	"fmt"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/vfs"
)

// Open a replica in place, read it, then look at it as it was earlier on
// one connection. (The replica is the repository's Litestream fixture,
// testdata/shop: see testdata/README.md.)
func Example() {
	v, err := vfs.Register(vfs.Config{})
	if err != nil {
		panic(err)
	}
	db, err := sql.Open("sqlite3", vfs.URI("../testdata/shop/replica"))
	if err != nil {
		panic(err)
	}
	defer db.Close()
	db.SetMaxOpenConns(1) // time travel is per connection

	var n, cents int64
	if err := db.QueryRow("select count(*), sum(cents) from orders").Scan(&n, &cents); err != nil {
		panic(fmt.Errorf("%w (%v)", err, v.LastError()))
	}
	fmt.Println("latest:", n, cents)

	if _, err := db.Exec("PRAGMA strata_time = '2026-11-29T22:43:49Z'"); err != nil {
		panic(err)
	}
	var txid string
	if err := db.QueryRow("select count(*), sum(cents) from orders").Scan(&n, &cents); err != nil {
		panic(err)
	}
	if err := db.QueryRow("PRAGMA strata_txid").Scan(&txid); err != nil {
		panic(err)
	}
	fmt.Println("then:", n, cents, txid)
	// Output:
	// latest: 2368 59404003
	// then: 2251 56428394 0000000000000004
}
