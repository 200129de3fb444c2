package integration

import (
	"strconv"
	"strings"
	"testing"
)

// The bank-transfer invariant across processes: one process transfers
// money between accounts, one commit per transfer, while three other
// processes check through the VFS that the total never changes and that
// what they see never goes back (transfer count, TXID). Each check is one
// read transaction. 10,000 checks in all, none may fail.
func TestWriteBankInvariantAcrossProcesses(t *testing.T) {
	const (
		accounts = 100
		total    = accounts * 1000
		readers  = 3
		checks   = 10_000
		// The readers check while at least this many transfers commit.
		minTransfers = 200
	)
	writeBackends(t, func(t *testing.T, b writeBackend) {
		w := startWriteload(t, b.env, "bank-write", "-url", b.url, "-buffer", t.TempDir(), "-accounts", strconv.Itoa(accounts))
		w.waitLine("ready")
		var rs []*proc
		for range readers {
			r := startWriteload(t, b.env, "bank-read", "-url", b.url, "-accounts", strconv.Itoa(accounts), "-total", strconv.Itoa(total), "-rate", "1000")
			rs = append(rs, r)
		}
		for _, r := range rs {
			r.waitLine("ready")
		}
		// Each reader does its share of the checks while transfers go on.
		for _, r := range rs {
			r.waitLine("checks " + strconv.Itoa((checks/readers/500+1)*500))
		}
		w.waitLine("transfers " + strconv.Itoa(minTransfers))
		w.stop()
		transfers := atoi(t, strings.Fields(w.output()[len(w.output())-1])[1])
		var sum, seenTXIDs int64
		for i, r := range rs {
			r.stop()
			s := summaryOf(t, r.output())
			sum += atoi(t, s["checks"])
			seenTXIDs += atoi(t, s["txids"])
			if s["violations"] != "0" || s["backwards"] != "0" {
				t.Errorf("reader %d: %s violations, %s times backwards: %v", i+1, s["violations"], s["backwards"], r.output())
			}
			// Each reader saw the transfers go on, not one frozen state.
			if atoi(t, s["txids"]) < 3 {
				t.Errorf("reader %d saw only %s TXIDs while %d transfers were committed", i+1, s["txids"], transfers)
			}
		}
		if sum < checks {
			t.Errorf("%d checks in all, want at least %d", sum, checks)
		}
		// Every transfer is stored, and the stored bank balances.
		restored := restoreReplica(t, b.store)
		db := openLocal(t, restored)
		defer db.Close()
		var gotTotal, gotTransfers int64
		if err := db.QueryRow(`select (select sum(balance) from accounts), (select n from transfers)`).Scan(&gotTotal, &gotTransfers); err != nil {
			t.Fatal(err)
		}
		if gotTotal != total || gotTransfers != transfers {
			t.Errorf("restored: total %d, %d transfers; want %d, %d", gotTotal, gotTransfers, total, transfers)
		}
		t.Logf("%s: %d transfers committed; %d reader checks, 0 violations, never backwards; readers saw %d TXIDs in all",
			b.name, transfers, sum, seenTXIDs)
	})
}
