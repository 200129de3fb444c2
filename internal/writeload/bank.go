package main

import (
	"context"
	"database/sql"
	"fmt"
	"math/rand/v2"
	"strings"
	"time"
)

// The bank: accounts(id, balance) whose balances always sum to the same
// total, and transfers(n) counting the transfers committed. Each transfer
// moves money between two accounts and counts itself, in one transaction.
// A reader that ever sees another total, or fewer transfers (or an older
// TXID) than it saw before, has seen a state no commit made.

// bankWrite creates the bank if the replica is empty, then transfers
// until stdin closes, and prints "transfers N busy M" at the end.
func bankWrite(ctx context.Context, o options) error {
	db, conn, err := open(ctx, o, false)
	if err != nil {
		return err
	}
	defer db.Close()
	var tables int
	if err := conn.QueryRowContext(ctx, `select count(*) from sqlite_schema where name = 'accounts'`).Scan(&tables); err != nil {
		return err
	}
	if tables == 0 {
		err := tx(ctx, conn,
			`create table accounts(id integer primary key, balance integer not null)`,
			`create table transfers(n integer not null)`,
			`insert into transfers values (0)`,
			fmt.Sprintf(`with recursive a(i) as (select 1 union all select i+1 from a where i < %d)
				insert into accounts select i, 1000 from a`, o.accounts))
		if err != nil {
			return fmt.Errorf("create the bank: %w", err)
		}
	}
	say("ready")
	stop := untilStdinCloses(ctx)
	rng := rand.New(rand.NewPCG(uint64(o.writer), 1))
	var done, busy int
	for stop.Err() == nil {
		from, to := rng.IntN(o.accounts)+1, rng.IntN(o.accounts)+1
		amount := rng.IntN(100) + 1
		err := tx(ctx, conn,
			fmt.Sprintf(`update accounts set balance = balance - %d where id = %d`, amount, from),
			fmt.Sprintf(`update accounts set balance = balance + %d where id = %d`, amount, to),
			`update transfers set n = n + 1`)
		switch {
		case err == nil:
			done++
			if done%50 == 0 {
				say("transfers %d", done)
			}
		case isBusy(err):
			busy++
		default:
			return fmt.Errorf("transfer %d: %w (%s)", done+1, err, lastError(ctx, conn))
		}
	}
	if _, err := conn.ExecContext(ctx, "PRAGMA strata_sync"); err != nil {
		return fmt.Errorf("store the last transfers: %w", err)
	}
	say("transfers %d busy %d", done, busy)
	return nil
}

// bankRead checks the bank until stdin closes: each check is one read
// transaction that reads the total, the number of accounts, the transfer
// count and the TXID it sees, at most -rate checks a second. It prints "checks N" now and then, each
// violation as it happens, and a summary at the end.
func bankRead(ctx context.Context, o options) error {
	db, conn, err := open(ctx, o, true)
	if err != nil {
		return err
	}
	defer db.Close()
	say("ready")
	stop := untilStdinCloses(ctx)
	var pace <-chan time.Time
	if o.rate > 0 {
		// Readers that spin leave a writer sharing a small machine no CPU.
		tick := time.NewTicker(time.Second / time.Duration(o.rate))
		defer tick.Stop()
		pace = tick.C
	}
	var (
		checks, violations, backwards, changes int
		lastN                                  int64
		lastTXID                               string
	)
	for stop.Err() == nil {
		if pace != nil {
			<-pace
		}
		total, accounts, n, txid, err := bankCheck(ctx, conn)
		if err != nil {
			return fmt.Errorf("check %d: %w (%s)", checks+1, err, lastError(ctx, conn))
		}
		checks++
		if total != o.total || accounts != o.accounts {
			violations++
			say("violation total %d accounts %d at TXID %s", total, accounts, txid)
		}
		// TXIDs are 16 hex digits: their order is the string order.
		if n < lastN || strings.Compare(txid, lastTXID) < 0 {
			backwards++
			say("backwards transfers %d after %d, TXID %s after %s", n, lastN, txid, lastTXID)
		}
		if txid != lastTXID {
			changes++
		}
		lastN, lastTXID = n, txid
		if checks%500 == 0 {
			say("checks %d", checks)
		}
	}
	say("summary checks %d violations %d backwards %d txids %d last %s transfers %d", checks, violations, backwards, changes, lastTXID, lastN)
	return nil
}

// bankCheck reads one consistent state: one read transaction, whose
// TXID PRAGMA strata_txid says (the view the transaction pinned).
func bankCheck(ctx context.Context, conn *sql.Conn) (total int64, accounts int, n int64, txid string, err error) {
	if _, err = conn.ExecContext(ctx, "BEGIN"); err != nil {
		return
	}
	defer func() {
		if _, cerr := conn.ExecContext(ctx, "COMMIT"); err == nil {
			err = cerr
		}
	}()
	if err = conn.QueryRowContext(ctx, `select sum(balance), count(*), (select n from transfers) from accounts`).Scan(&total, &accounts, &n); err != nil {
		return
	}
	err = conn.QueryRowContext(ctx, `PRAGMA strata_txid`).Scan(&txid)
	return
}
