package integration

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/testenv"
)

// A bank is a local SQLite database in WAL mode, with pages of 512 bytes,
// that Litestream replicates while it changes: accounts whose balances
// always sum to bankTotal (every transaction moves money between two of
// them), and a table of padding that grows past several 4096-page chunks,
// is emptied and VACUUMed down to a few pages, and grows again.
type bank struct {
	path string
	db   *sql.DB
	// Counters of the workload (owned by run's goroutine until it returns).
	transfers, vacuums, grows int
}

const (
	bankAccounts = 200
	bankTotal    = bankAccounts * 1000
)

func newBank(t *testing.T, path string) *bank {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+path+"?_busy_timeout=10000")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { db.Close() })
	db.SetMaxOpenConns(1) // one writer; the page size is set before the file exists
	for _, q := range []string{
		`pragma page_size = 512`,
		`create table accounts(id integer primary key, bal integer not null)`,
		fmt.Sprintf(`with recursive s(x) as (select 1 union all select x + 1 from s where x < %d)
			insert into accounts(id, bal) select x, 1000 from s`, bankAccounts),
		`create table pad(id integer primary key, v blob)`,
		`pragma journal_mode = wal`,
	} {
		if _, err := db.Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	return &bank{path: path, db: db}
}

// transfer moves money between two accounts in one transaction.
func (b *bank) transfer(n int) error {
	from, to := 1+n%bankAccounts, 1+(n*7+3)%bankAccounts
	tx, err := b.db.Begin()
	if err != nil {
		return err
	}
	defer tx.Rollback()
	if _, err := tx.Exec(`update accounts set bal = bal - ? where id = ?`, n%50, from); err != nil {
		return err
	}
	if _, err := tx.Exec(`update accounts set bal = bal + ? where id = ?`, n%50, to); err != nil {
		return err
	}
	b.transfers++
	return tx.Commit()
}

// grow adds padding until the database holds at least pages pages, in
// steps transactions.
func (b *bank) grow(pages, steps int) error {
	var have int
	if err := b.db.QueryRow(`pragma page_count`).Scan(&have); err != nil {
		return err
	}
	// A 400-byte blob takes about one 512-byte page.
	per := max((pages-have)/steps, 1)
	for range steps {
		if _, err := b.db.Exec(`with recursive s(x) as (select 1 union all select x + 1 from s where x < ?)
			insert into pad(v) select randomblob(400) from s`, per); err != nil {
			return err
		}
	}
	b.grows++
	return nil
}

// shrink empties the padding and VACUUMs: the database drops to a few
// pages.
func (b *bank) shrink() error {
	if _, err := b.db.Exec(`delete from pad`); err != nil {
		return err
	}
	if _, err := b.db.Exec(`vacuum`); err != nil {
		return err
	}
	b.vacuums++
	return nil
}

// run changes the database until ctx is done: cycles of transfers,
// growth past 4096-page chunks (in one transaction or several), and
// VACUUMs that shrink it below the first chunk.
func (b *bank) run(ctx context.Context) error {
	n := 0
	transfers := func(k int) error {
		for range k {
			if ctx.Err() != nil {
				return nil
			}
			n++
			if err := b.transfer(n); err != nil {
				return fmt.Errorf("transfer %d: %w", n, err)
			}
		}
		return nil
	}
	for cycle := 0; ctx.Err() == nil; cycle++ {
		steps := []func() error{
			func() error { return transfers(40) },
			func() error { return b.grow(9000+1000*(cycle%3), 1+cycle%3) }, // past chunks 1 and 2
			func() error { return transfers(40) },
			b.shrink,
			func() error { return transfers(20) },
			func() error { return b.grow(5000, 1) }, // regrow into chunk 1 in one commit
			func() error { return transfers(20) },
			b.shrink,
		}
		for _, step := range steps {
			if ctx.Err() != nil {
				return nil
			}
			if err := step(); err != nil {
				return err
			}
		}
	}
	return nil
}

// checkBank checks the invariant of a bank database (local, restored or
// read through the VFS) and returns the number of padding rows.
func checkBank(q interface {
	QueryRow(string, ...any) *sql.Row
}) (pad int, err error) {
	var sum, n int
	if err := q.QueryRow(`select sum(bal), count(*), (select count(*) from pad) from accounts`).Scan(&sum, &n, &pad); err != nil {
		return 0, err
	}
	if sum != bankTotal || n != bankAccounts {
		return pad, fmt.Errorf("the bank holds %d in %d accounts, want %d in %d", sum, n, bankTotal, bankAccounts)
	}
	return pad, nil
}

// litestreamProc is a running `litestream replicate`.
type litestreamProc struct {
	cmd  *exec.Cmd
	log  *syncBuffer
	once sync.Once
}

// stop ends the process (SIGTERM, then SIGKILL after 10 s) and waits for
// it: the replica then changes no more. It may be called more than once.
func (p *litestreamProc) stop() {
	p.once.Do(func() {
		_ = p.cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan struct{})
		go func() { _ = p.cmd.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(10 * time.Second):
			_ = syscall.Kill(-p.cmd.Process.Pid, syscall.SIGKILL)
			<-done
		}
	})
}

// startLitestream runs `litestream replicate` on db into the directory
// replica rep, with short intervals (sync 100 ms, L1 compaction every
// 2 s, snapshots every 10 s, level-0 files kept a minute), until stop or
// the end of the test.
func startLitestream(t *testing.T, db, rep string) *litestreamProc {
	t.Helper()
	bin := testenv.Litestream(t)
	cfg := filepath.Join(t.TempDir(), "litestream.yml")
	if err := os.WriteFile(cfg, []byte(fmt.Sprintf(`levels:
  - interval: 2s
snapshot:
  interval: 10s
  retention: 1h
l0-retention: 1m
l0-retention-check-interval: 1s
dbs:
  - path: %s
    monitor-interval: 100ms
    replica:
      url: file://%s
      sync-interval: 100ms
`, db, rep)), 0o644); err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command(bin, "replicate", "-config", cfg)
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") { // its S3 client fails with one set
			cmd.Env = append(cmd.Env, kv)
		}
	}
	log := &syncBuffer{}
	cmd.Stdout, cmd.Stderr = log, log
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	p := &litestreamProc{cmd: cmd, log: log}
	t.Cleanup(func() {
		p.stop()
		if t.Failed() {
			t.Logf("litestream log:\n%s", log.String())
		}
	})
	testenv.Eventually(t, 30*time.Second, func() (bool, string) {
		entries, _ := os.ReadDir(filepath.Join(rep, "ltx", "0"))
		return len(entries) > 0, "no level-0 file in the replica yet; litestream log:\n" + log.String()
	})
	return p
}

// bankDigest sums up a bank database: every account and every padding
// row.
func bankDigest(q interface {
	Query(string, ...any) (*sql.Rows, error)
}) (string, error) {
	h := sha256.New()
	for _, query := range []string{`select id, bal from accounts order by id`, `select id, v from pad order by id`} {
		rows, err := q.Query(query)
		if err != nil {
			return "", err
		}
		for rows.Next() {
			var id int64
			var v []byte
			if err := rows.Scan(&id, &v); err != nil {
				rows.Close()
				return "", err
			}
			fmt.Fprintf(h, "%d|%x\n", id, v)
		}
		rows.Close()
		if err := rows.Err(); err != nil {
			return "", err
		}
	}
	return hex.EncodeToString(h.Sum(nil)), nil
}
