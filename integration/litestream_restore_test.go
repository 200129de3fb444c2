package integration

import (
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"sort"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
	"github.com/superfly/ltx"
)

// restoreBank restores target of the replica in dir into a new file and
// opens it.
func restoreBank(t *testing.T, r *replica.Replica, target replica.Target) (*sql.DB, replica.Plan, error) {
	t.Helper()
	ctx := context.Background()
	plan, err := r.Plan(ctx, target)
	if err != nil {
		return nil, plan, err
	}
	path := filepath.Join(t.TempDir(), "restored.db")
	f, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Restore(ctx, plan, f, replica.RestoreOptions{})
	f.Close()
	if err != nil {
		return nil, plan, err
	}
	db, err := sql.Open("sqlite3", path)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	return db, plan, nil
}

// A replica written by the real `litestream replicate` while the
// database takes transfers, grows past several 4096-page chunks, is
// VACUUMed down to a few pages and grows again, passes every check
// restore makes (checksums, page 1 against each header's Commit, the
// pages every growth adds): the latest state restores to the local
// database exactly, and every state the replica still reaches, by TXID
// and by time, restores intact with the bank's invariant.
func TestRestoreLitestreamReplica(t *testing.T) {
	dir := t.TempDir()
	b := newBank(t, filepath.Join(dir, "bank.db"))
	rep := filepath.Join(dir, "replica")
	ls := startLitestream(t, b.path, rep)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := b.run(ctx); err != nil {
		t.Fatal(err)
	}
	want, err := bankDigest(b.db)
	if err != nil {
		t.Fatal(err)
	}
	store, err := filestore.New(rep)
	if err != nil {
		t.Fatal(err)
	}
	r := replica.New(store)

	// Litestream catches up within a few sync intervals.
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		db, plan, err := restoreBank(t, r, replica.Latest())
		if err != nil {
			return false, err.Error()
		}
		got, err := bankDigest(db)
		if err != nil {
			return false, err.Error()
		}
		return got == want, "the latest state restored (TXID " + plan.TXID.String() + ") is not the local database yet"
	})

	// From here on the replica stays as it is: Litestream's retention
	// would otherwise delete level-0 files under the restores.
	ls.stop()
	files, err := r.Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	ends := map[ltx.TXID]bool{}
	for _, f := range files {
		ends[f.MaxTXID] = true
	}
	var txids []ltx.TXID
	for txid := range ends {
		txids = append(txids, txid)
	}
	sort.Slice(txids, func(i, j int) bool { return txids[i] < txids[j] })
	restored, unreachable := 0, 0
	for i, txid := range txids {
		if len(txids) > 12 && i%(len(txids)/12) != 0 && i != len(txids)-1 {
			continue // about 12 states, the last included
		}
		db, plan, err := restoreBank(t, r, replica.AtTXID(txid))
		if errors.Is(err, replica.ErrUnreachable) {
			unreachable++ // inside a compacted range
			continue
		}
		if err != nil {
			t.Fatalf("restore TXID %s: %v", txid, err)
		}
		if _, err := checkBank(db); err != nil {
			t.Errorf("TXID %s (%d files): %v", txid, len(plan.Files), err)
		}
		var ok string
		if err := db.QueryRow(`pragma integrity_check`).Scan(&ok); err != nil || ok != "ok" {
			t.Errorf("TXID %s: integrity_check: %s %v", txid, ok, err)
		}
		restored++
		if restored%3 != 1 {
			continue
		}
		// The same state by its commit time.
		h, err := r.ParsedHeader(context.Background(), plan.Files[len(plan.Files)-1])
		if err != nil {
			t.Fatal(err)
		}
		if db, _, err := restoreBank(t, r, replica.AtTime(time.UnixMilli(h.Timestamp))); err != nil {
			t.Errorf("restore at the time of TXID %s: %v", txid, err)
		} else if _, err := checkBank(db); err != nil {
			t.Errorf("at the time of TXID %s: %v", txid, err)
		}
	}
	t.Logf("%d transfers, %d growths, %d VACUUMs; %d files; %d states restored by TXID (a third also by time), %d inside compacted ranges",
		b.transfers, b.grows, b.vacuums, len(files), restored, unreachable)
	if restored == 0 || b.vacuums == 0 {
		t.Error("nothing was tested")
	}
}
