// Command demo supports `make demo`: it creates the sample database the
// demo imports, and reads a restored file back, so that the demo needs no
// sqlite3 shell.
//
//	demo create DB        create a sample shop database (WAL mode)
//	demo query DB SQL     print the rows of SQL, columns separated by |
package main

import (
	"database/sql"
	"fmt"
	"os"
	"strings"

	_ "github.com/mattn/go-sqlite3"
)

func main() {
	if err := run(os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "demo:", err)
		os.Exit(1)
	}
}

func run(args []string) error {
	switch {
	case len(args) == 2 && args[0] == "create":
		return create(args[1])
	case len(args) == 3 && args[0] == "query":
		return query(args[1], args[2])
	default:
		return fmt.Errorf("usage: demo create DB | demo query DB SQL")
	}
}

// create writes a shop database: 1000 orders from 40 customers.
func create(path string) error {
	if _, err := os.Stat(path); err == nil {
		return fmt.Errorf("%s already exists", path)
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		return err
	}
	defer db.Close()
	for _, q := range []string{
		`pragma journal_mode = wal`,
		`create table orders(id integer primary key, customer text not null, cents integer not null, placed_at text not null)`,
		`create index orders_customer on orders(customer)`,
	} {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	tx, err := db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	for i := 1; i <= 1000; i++ {
		_, err := tx.Exec(`insert into orders(customer, cents, placed_at) values (?, ?, ?)`,
			fmt.Sprintf("customer-%02d", i%40), 100+(i*7919)%20000,
			fmt.Sprintf("2026-11-%02dT%02d:%02d:00Z", 1+i%28, i%24, i%60))
		if err != nil {
			return err
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	fmt.Fprintf(os.Stderr, "created %s: 1000 orders\n", path)
	return nil
}

func query(path, q string) error {
	if _, err := os.Stat(path); err != nil {
		return err
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return err
	}
	defer db.Close()
	rows, err := db.Query(q)
	if err != nil {
		return fmt.Errorf("%s: %w", path, err)
	}
	defer rows.Close()
	cols, err := rows.Columns()
	if err != nil {
		return err
	}
	vals := make([]sql.NullString, len(cols))
	ptrs := make([]any, len(cols))
	for i := range vals {
		ptrs[i] = &vals[i]
	}
	for rows.Next() {
		if err := rows.Scan(ptrs...); err != nil {
			return err
		}
		out := make([]string, len(vals))
		for i, v := range vals {
			out[i] = v.String
		}
		fmt.Println(strings.Join(out, "|"))
	}
	return rows.Err()
}
