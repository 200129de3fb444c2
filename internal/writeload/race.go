package main

import (
	"context"
	"fmt"
)

// race makes -attempts commits, each inserting a row of its own id
// (writer*1,000,000 + attempt) into rows(id, writer), creating the table if
// needed. After each attempt it prints "ok ID" once COMMIT returned OK,
// "busy ID" when it failed with SQLITE_BUSY (a conflict: the application
// moves on to its next attempt, a retry with a new id), or "fail ID CODE"
// for any other failure.
func race(ctx context.Context, o options) error {
	db, conn, err := open(ctx, o, false)
	if err != nil {
		return err
	}
	defer db.Close()
	for {
		err := tx(ctx, conn, `create table if not exists rows(id integer primary key, writer integer not null)`)
		if err == nil {
			break
		}
		if !isBusy(err) {
			return fmt.Errorf("create table: %w (%s)", err, lastError(ctx, conn))
		}
	}
	say("ready")
	var ok, busy, failed int
	for i := range o.attempts {
		id := int64(o.writer)*1_000_000 + int64(i)
		err := tx(ctx, conn, fmt.Sprintf(`insert into rows values (%d, %d)`, id, o.writer))
		switch {
		case err == nil:
			ok++
			say("ok %d", id)
		case isBusy(err):
			busy++
			say("busy %d", id)
		default:
			failed++
			say("fail %d %d %v; %s", id, code(err), err, lastError(ctx, conn))
		}
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA strata_sync"); err != nil {
		return fmt.Errorf("store the last commits: %w", err)
	}
	say("summary ok %d busy %d fail %d", ok, busy, failed)
	return nil
}
