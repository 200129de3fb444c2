package vfs_test

import (
	"database/sql"
	"fmt"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/vfs"
)

// Open a replica in place, read it, then look at it as it was earlier on
// one connection. (The replica is the shared Litestream fixture that sits
// beside the repository.)
func Example() {
	v, err := vfs.Register(vfs.Config{})
	if err != nil {
		panic(err)
	}
	db, err := sql.Open("sqlite3", vfs.URI("../../shared/fixtures/litestream-0.5-shop/replica"))
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

	if _, err := db.Exec("PRAGMA strata_time = '2026-11-24T22:14:33Z'"); err != nil {
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
	// latest: 1600 80650419
	// then: 500 25942822 0000000000000003
}
