package integration

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/vfs"
)

// liveRunTime is how long the workload runs while strata reads.
const liveRunTime = 30 * time.Second

// Strata readers follow a replica that the real `litestream replicate`
// writes while the database takes transfers, grows past several
// 4096-page chunks, is VACUUMed down to a few pages and grows again: at
// every poll, through the VFS, the bank's invariant holds (the balances
// sum to the same total) for readers of the latest state and for a
// reader that travels to random moments of the past; when the workload
// stops, the readers reach the local database's exact state.
func TestLitestreamLiveReaders(t *testing.T) {
	dir := t.TempDir()
	b := newBank(t, filepath.Join(dir, "bank.db"))
	rep := filepath.Join(dir, "replica")
	startLitestream(t, b.path, rep)
	v := strataVFS(t)
	start := time.Now()

	ctx, cancel := context.WithTimeout(context.Background(), liveRunTime)
	defer cancel()
	var wg sync.WaitGroup
	var mu sync.Mutex // guards checks and errs
	checks := map[string]int{}
	var errs []error
	fail := func(who string, err error) {
		mu.Lock()
		defer mu.Unlock()
		if len(errs) < 10 {
			errs = append(errs, fmt.Errorf("%s: %w (strata: %v)", who, err, v.LastError()))
		}
	}
	reader := func(name string, travel bool) {
		defer wg.Done()
		db, err := sql.Open("sqlite3", vfs.URI(rep, "poll_interval", "100ms"))
		if err != nil {
			fail(name, err)
			return
		}
		defer db.Close()
		conn, err := db.Conn(context.Background())
		if err != nil {
			fail(name, err)
			return
		}
		defer conn.Close()
		rng := rand.New(rand.NewPCG(uint64(len(name)), 1))
		for ctx.Err() == nil {
			if travel {
				at := start.Add(time.Duration(rng.Int64N(int64(time.Since(start)) + 1)))
				_, err := conn.ExecContext(context.Background(), fmt.Sprintf(`PRAGMA strata_time = '%s'`, at.UTC().Format(time.RFC3339Nano)))
				if err != nil {
					continue // before the first commit, or not yet replicated: not an error
				}
			}
			if _, err := checkBank(connRow{conn}); err != nil {
				fail(name, err)
				return
			}
			mu.Lock()
			checks[name]++
			mu.Unlock()
		}
	}
	for _, name := range []string{"latest-1", "latest-2"} {
		wg.Add(1)
		go reader(name, false)
	}
	wg.Add(1)
	go reader("time-travel", true)

	if err := b.run(ctx); err != nil {
		t.Fatal(err)
	}
	wg.Wait()
	for _, err := range errs {
		t.Error(err)
	}

	// The readers catch up with the local database.
	want, err := bankDigest(b.db)
	if err != nil {
		t.Fatal(err)
	}
	db, err := sql.Open("sqlite3", vfs.URI(rep, "poll_interval", "100ms"))
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		got, err := bankDigest(db)
		if err != nil {
			return false, errors.Join(err, v.LastError()).Error()
		}
		return got == want, "the VFS does not read the local database's state yet"
	})
	t.Logf("%d transfers, %d growths, %d VACUUMs in %s; invariant checks: %v", b.transfers, b.grows, b.vacuums, liveRunTime, checks)
	for name, n := range checks {
		if n == 0 {
			t.Errorf("reader %s checked nothing", name)
		}
	}
}

// connRow runs QueryRow on one connection.
type connRow struct{ conn *sql.Conn }

func (c connRow) QueryRow(q string, args ...any) *sql.Row {
	return c.conn.QueryRowContext(context.Background(), q, args...)
}
