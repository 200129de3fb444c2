package integration

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/testenv"
)

// A replica strata wrote — many commits, a 3 MB blob, a shrink (auto
// vacuum truncating the file at commit), a VACUUM — restores with
// `strata restore` and with the real `litestream restore` to exactly the
// data the writer saw: at the latest state and at each earlier TXID the
// writer noted.
func TestWriteReplicaRestoresExactly(t *testing.T) {
	litestream := testenv.Litestream(t)
	serialBackends(t, func(t *testing.T, b writeBackend) {
		db := openReplica(t, b.url, "write", "1", "buffer", t.TempDir())
		checkpoints := writeHistory(t, db)
		db.Close()

		for _, cp := range checkpoints {
			args := []string{"restore", "-o", filepath.Join(t.TempDir(), "out.db")}
			if !cp.latest {
				args = append(args, "-txid", cp.txid)
			}
			out := args[2]
			strataOK(t, b.env, "", append(args, b.url)...)
			if got := fileDigest(t, out); got != cp.digest {
				t.Errorf("strata restore at TXID %s (%s): the data differs from what the writer saw", cp.txid, cp.what)
			}
		}
		for _, cp := range checkpoints {
			out := filepath.Join(t.TempDir(), "out.db")
			args := []string{"restore", "-o", out}
			if !cp.latest {
				args = append(args, "-txid", cp.txid)
			}
			runLitestream(t, litestream, b.env, append(args, b.url)...)
			if got := fileDigest(t, out); got != cp.digest {
				t.Errorf("litestream restore at TXID %s (%s): the data differs from what the writer saw", cp.txid, cp.what)
			}
		}
		t.Logf("%s: %d states (last TXID %s) restored exactly by strata and litestream", b.name, len(checkpoints), checkpoints[len(checkpoints)-1].txid)
	})
}

// checkpoint is a state the writer saw: its TXID and its data's digest.
type checkpoint struct {
	what, txid, digest string
	latest             bool
}

// writeHistory writes a history of commits through db (a writable
// replica) and returns the states it noted, the last one the latest.
func writeHistory(t *testing.T, db *sql.DB) []checkpoint {
	t.Helper()
	ctx := context.Background()
	conn, err := db.Conn(ctx)
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	run := func(q string, args ...any) {
		t.Helper()
		if _, err := conn.ExecContext(ctx, q, args...); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	var cps []checkpoint
	note := func(what string) {
		t.Helper()
		cps = append(cps, checkpoint{what: what, txid: mustScalar[string](t, conn, `pragma strata_txid`), digest: dbDigest(t, conn)})
	}
	pages := func() int64 { return mustScalar[int64](t, conn, `pragma page_count`) }

	run(`pragma auto_vacuum = full`) // commits that free pages shrink the file
	run(`create table t(id integer primary key, v text, b blob)`)
	run(`create index tv on t(v)`)
	for i := 1; i <= 60; i++ {
		run(`insert into t(v, b) values (?, randomblob(?))`, fmt.Sprintf("row %d", i), i*37%3000)
	}
	run(`begin`)
	run(`update t set v = v || ' updated' where id % 3 = 0`)
	run(`delete from t where id % 7 = 0`)
	run(`commit`)
	note("60 commits")
	run(`insert into t(v, b) values ('big', randomblob(3 * 1024 * 1024))`)
	note("a 3 MB blob")
	before := pages()
	run(`delete from t where v = 'big'`)
	if after := pages(); after >= before {
		t.Fatalf("deleting the blob left %d pages of %d: no shrink", after, before)
	}
	note("the shrink")
	run(`delete from t where id % 2 = 0`)
	run(`vacuum`)
	note("VACUUM")
	for i := 1; i <= 20; i++ {
		run(`insert into t(v, b) values (?, zeroblob(?))`, fmt.Sprintf("after %d", i), i*100)
	}
	note("latest")
	cps[len(cps)-1].latest = true
	if res := mustScalar[string](t, conn, `pragma integrity_check`); res != "ok" {
		t.Fatalf("the writer's integrity_check: %s", res)
	}
	return cps
}

// dbDigest hashes the schema and every row of every table that q sees,
// in rowid order.
func dbDigest(t testing.TB, q interface {
	QueryContext(context.Context, string, ...any) (*sql.Rows, error)
}) string {
	t.Helper()
	ctx := context.Background()
	h := sha256.New()
	var tables []string
	dump := func(query string) {
		rows, err := q.QueryContext(ctx, query)
		if err != nil {
			t.Fatalf("%s: %v", query, err)
		}
		defer rows.Close()
		cols, _ := rows.Columns()
		vals := make([]any, len(cols))
		ptrs := make([]any, len(cols))
		for i := range vals {
			ptrs[i] = &vals[i]
		}
		for rows.Next() {
			if err := rows.Scan(ptrs...); err != nil {
				t.Fatal(err)
			}
			for _, v := range vals {
				fmt.Fprintf(h, "%T:%v|", v, v)
			}
			h.Write([]byte("\n"))
			if strings.HasPrefix(query, "select type") && vals[0] == "table" && !strings.HasPrefix(fmt.Sprint(vals[1]), "sqlite_") {
				tables = append(tables, fmt.Sprint(vals[1]))
			}
		}
		if err := rows.Err(); err != nil {
			t.Fatal(err)
		}
	}
	dump(`select type, name, tbl_name, sql from sqlite_schema order by name`)
	for _, name := range tables {
		dump(`select * from "` + name + `" order by rowid`)
	}
	return hex.EncodeToString(h.Sum(nil))
}

// fileDigest is dbDigest of a local SQLite file, after checking it with
// PRAGMA integrity_check.
func fileDigest(t testing.TB, path string) string {
	t.Helper()
	db := openLocal(t, path)
	defer db.Close()
	var res string
	if err := db.QueryRow(`pragma integrity_check`).Scan(&res); err != nil || res != "ok" {
		t.Fatalf("integrity_check of %s: %q, %v", path, res, err)
	}
	return dbDigest(t, db)
}

// serialBackends is writeBackends one after the other, for tests that
// write in this process (an S3 replica then needs the server's
// credentials in the environment, which parallel tests cannot set).
func serialBackends(t *testing.T, fn func(t *testing.T, b writeBackend)) {
	t.Run("dir", func(t *testing.T) { fn(t, dirBackend(t)) })
	t.Run("s3", func(t *testing.T) {
		srv := testenv.VersityGW(t)
		srv.SetEnv(t)
		fn(t, s3Backend(t, srv))
	})
}

// runLitestream runs litestream with env (its S3 client fails when
// AWS_CA_BUNDLE is set: cliEnv leaves every AWS_ variable of this process
// out) and fails the test unless it exits with 0.
func runLitestream(t testing.TB, bin string, env []string, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), cliProcTimeout)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.Env = env
	cmd.Dir = t.TempDir()
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("litestream %s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return string(out)
}
