package main

import (
	"context"
	"fmt"
	"time"
)

// crash inserts rows with ids -start, -start+1, ... into rows(id, pad), one
// commit each, until it is killed, printing "ok ID" once COMMIT returned
// OK: an acknowledged commit. Every tenth commit also adds a row of -big
// bytes to big(data), so that a kill may land in the middle of a
// multi-page upload. It creates the tables if
// needed and prints "ready" first.
func crash(ctx context.Context, o options) error {
	db, conn, err := open(ctx, o, false)
	if err != nil {
		return err
	}
	defer db.Close()
	err = tx(ctx, conn,
		`create table if not exists rows(id integer primary key, pad blob)`,
		`create table if not exists big(id integer primary key, data blob)`)
	if err != nil {
		return fmt.Errorf("create tables: %w (%s)", err, lastError(ctx, conn))
	}
	say("ready")
	for i := int64(0); ; i++ {
		id := o.start + i
		stmts := []string{fmt.Sprintf(`insert into rows values (%d, randomblob(%d))`, id, o.pad)}
		if i%10 == 9 {
			stmts = append(stmts, fmt.Sprintf(`insert into big(data) values (randomblob(%d))`, o.big))
		}
		err := tx(ctx, conn, stmts...)
		switch {
		case err == nil:
			say("ok %d", id)
		case isBusy(err):
			say("busy %d", id)
		default:
			say("fail %d %d %v; %s", id, code(err), err, lastError(ctx, conn))
			time.Sleep(10 * time.Millisecond) // a storage outage: do not spin
		}
	}
}
