package integration

import (
	"context"
	"database/sql"
	"fmt"
	"path/filepath"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// strata continues a replica that the real `litestream replicate` wrote
// (once it is stopped): its commits follow Litestream's TXIDs, and both
// `strata restore` and `litestream restore` give back exactly what the
// strata writer saw.
func TestWriteContinuesALitestreamReplica(t *testing.T) {
	litestream := testenv.Litestream(t)
	serialBackends(t, func(t *testing.T, b writeBackend) {
		// An application writes a local database in WAL mode, and
		// litestream replicates it.
		src := filepath.Join(t.TempDir(), "app.db")
		local, err := sql.Open("sqlite3", "file:"+src+"?_journal_mode=WAL")
		if err != nil {
			t.Fatal(err)
		}
		defer local.Close()
		for _, q := range []string{
			`create table t(id integer primary key, v text)`,
			`insert into t(v) values ('from the application')`,
		} {
			if _, err := local.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		ls := startProc(t, b.env, litestream, "replicate", src, b.url)
		reader := openReplica(t, b.url, "wait", "1m")
		// Rounds of commits, each waited for: litestream stores several
		// TXIDs.
		rows := int64(1)
		for round := 1; round <= 4; round++ {
			for i := 1; i <= 5; i++ {
				if _, err := local.Exec(`insert into t(v) values (?)`, fmt.Sprintf("app %d.%d", round, i)); err != nil {
					t.Fatal(err)
				}
			}
			rows += 5
			eventually(t, time.Minute, func() (bool, string) {
				n, err := scalarOf[int64](reader, `select count(*) from t`)
				return err == nil && n == rows, fmt.Sprintf("the replica has %d of the %d rows (%v); litestream: %s", n, rows, err, ls.stderr)
			})
		}
		_ = ls.cmd.Process.Signal(syscall.SIGTERM)
		ls.wait(0)
		reader.Close()
		lsLast := lastTXID(t, b.store)

		// strata takes over the replica.
		w := openReplica(t, b.url, "write", "1", "buffer", t.TempDir())
		for i := 1; i <= 10; i++ {
			if _, err := w.Exec(`insert into t(v) values (?)`, fmt.Sprintf("strata %d", i)); err != nil {
				t.Fatalf("strata commit %d on litestream's replica: %v", i, err)
			}
		}
		if _, err := w.Exec(`update t set v = v || '!' where id % 2 = 0`); err != nil {
			t.Fatal(err)
		}
		conn, err := w.Conn(context.Background())
		if err != nil {
			t.Fatal(err)
		}
		want := dbDigest(t, conn)
		txid := mustScalar[string](t, conn, `pragma strata_txid`)
		conn.Close()
		w.Close()
		if want, got := fmt.Sprintf("%016x", uint64(lsLast)+11), txid; got != want {
			t.Errorf("strata's 11 commits after litestream's TXID %s end at TXID %s, want %s", lsLast, got, want)
		}

		out := filepath.Join(t.TempDir(), "strata.db")
		strataOK(t, b.env, "", "restore", "-o", out, b.url)
		if fileDigest(t, out) != want {
			t.Error("strata restore of the continued replica differs from what the strata writer saw")
		}
		out = filepath.Join(t.TempDir(), "litestream.db")
		runLitestream(t, litestream, b.env, "restore", "-o", out, b.url)
		if fileDigest(t, out) != want {
			t.Error("litestream restore of the continued replica differs from what the strata writer saw")
		}
		t.Logf("%s: litestream stored TXIDs up to %s, strata continued to %s; both restores exact", b.name, lsLast, txid)
	})
}

// scalarOf runs a one-value query.
func scalarOf[T any](q querier, query string) (T, error) {
	var v T
	err := q.QueryRowContext(context.Background(), query).Scan(&v)
	return v, err
}

// lastTXID is the newest TXID of any file of the replica in store.
func lastTXID(t testing.TB, store storage.Backend) ltx.TXID {
	t.Helper()
	files, err := replica.New(store).Files(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	var last ltx.TXID
	for _, f := range files {
		last = max(last, f.MaxTXID)
	}
	return last
}
