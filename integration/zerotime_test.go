package integration

import (
	"context"
	"database/sql"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
	"github.com/strata-db/strata/vfs"
)

// yearOne spells the zero time.Time in several ways and zones.
var yearOne = []string{
	"0001-01-01T00:00:00Z",
	"0001-01-01T00:00:00.000000000Z",
	"0001-01-01 00:00:00",
	"0001-01-01",
	"0001-01-01T01:00:00+01:00",
	"0001-01-01T00:00:00-05:00",
}

// The zero time (January 1st of year 1, whatever its spelling or zone) is
// a moment before every commit, not "latest": restore, query and the
// strata_time pragma say so, naming the time and the first commit.
func TestYearOneIsNotLatest(t *testing.T) {
	rep := fixture.ReplicaDir(t)
	env := cliEnv(t)
	dir := t.TempDir()
	for _, ts := range yearOne {
		strataFails(t, 1, []string{"before the first transaction"}, env, dir,
			"restore", "-timestamp", ts, "-o", filepath.Join(dir, "out.db"), rep)
		strataFails(t, 1, nil, env, dir, "query", "-timestamp", ts, rep, "select count(*) from orders")
	}
	cliNoFiles(t, dir)

	v := strataVFS(t)
	db, err := sql.Open("sqlite3", vfs.URI(rep))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	conn, err := db.Conn(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	defer conn.Close()
	for _, ts := range yearOne {
		_, err := conn.ExecContext(context.Background(), `PRAGMA strata_time = '`+ts+`'`)
		if err == nil || !strings.Contains(err.Error()+errString(v.LastError()), "before the first transaction") {
			t.Errorf("PRAGMA strata_time = '%s': %v (strata: %v), want an error: before the first transaction", ts, err, v.LastError())
		}
		var txid string
		if err := conn.QueryRowContext(context.Background(), `PRAGMA strata_txid`).Scan(&txid); err != nil || txid != fixture.Truth(t)[len(fixture.Truth(t))-1].TXID.String() {
			t.Errorf("after the refused pragma, strata_txid = %s, %v; want the latest", txid, err)
		}
	}
}

func errString(err error) string {
	if err == nil {
		return ""
	}
	return err.Error()
}
