package main

import (
	"bufio"
	"bytes"
	"context"
	"database/sql"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/internal/testenv"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
)

// syncBuffer is a bytes.Buffer safe for a writer and readers on other
// goroutines.
type syncBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

func (b *syncBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.Write(p)
}

func (b *syncBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}

// bank is a replica of accounts whose balances always sum to total, fed
// by an ltxtest writer.
type bank struct {
	w     *ltxtest.Writer
	rep   string
	total int
}

const bankAccounts = 200

func newBank(t testing.TB) *bank {
	t.Helper()
	rep := filepath.Join(t.TempDir(), "replica")
	store, err := filestore.New(rep)
	if err != nil {
		t.Fatal(err)
	}
	w := ltxtest.NewWriter(t, store, filepath.Join(t.TempDir(), "bank.db"))
	w.Exec(`create table acct(id integer primary key, bal integer not null, pad blob)`)
	for i := range bankAccounts {
		w.DB().Exec(`insert into acct(id, bal, pad) values (?, 100, randomblob(300))`, i)
	}
	w.Commit()
	return &bank{w: w, rep: rep, total: bankAccounts * 100}
}

// transfer moves money between accounts, and sometimes adds empty
// accounts (the database grows) or drops them and vacuums (it shrinks).
func (b *bank) transfer(rng *rand.Rand) {
	switch rng.IntN(10) {
	case 0:
		b.w.Exec(`insert into acct(bal, pad) select 0, randomblob(2000) from acct limit 50`)
	case 1:
		b.w.Exec(`delete from acct where bal = 0 and id >= ?`, bankAccounts)
		b.w.Exec(`vacuum`)
	default:
		a, c, amt := rng.IntN(bankAccounts), rng.IntN(bankAccounts), rng.IntN(50)
		b.w.Exec(`update acct set bal = bal - ? where id = ?; update acct set bal = bal + ? where id = ?`, amt, a, amt, c)
	}
}

// bankQuery is what a reader sees of the bank: total balance, accounts,
// and a checksum of every row, as one string.
const bankQuery = `select sum(bal) || '|' || count(*) || '|' || coalesce(sum(id * bal + length(pad)), 0) from acct`

func bankState(db interface {
	QueryRow(string, ...any) *sql.Row
}) (string, error) {
	var s string
	err := db.QueryRow(bankQuery).Scan(&s)
	return s, err
}

// Follow mode keeps OUT current while SQLite readers read it: every
// reader transaction sees one whole state (balances always add up), and
// the file ends where the replica ends, through growing and shrinking
// transactions.
func TestFollowKeepsReadersConsistent(t *testing.T) {
	b := newBank(t)
	out := filepath.Join(t.TempDir(), "follow.db")
	ctx, cancel := context.WithCancel(context.Background())
	var stderr syncBuffer
	done := make(chan int, 1)
	go func() {
		done <- run(ctx, []string{"restore", "-f", "-follow-interval", "10ms", "-o", out, b.rep}, &bytes.Buffer{}, &stderr)
	}()
	var code int
	stop := sync.OnceFunc(func() {
		cancel()
		code = <-done
	})
	t.Cleanup(stop)
	testenv.Eventually(t, 10*time.Second, func() (bool, string) {
		return strings.Contains(stderr.String(), "following"), "restore -f never started following: " + stderr.String()
	})

	// Readers are other processes, the real sqlite3 shell: POSIX locks
	// only exclude other processes. Each runs statement after statement
	// (each its own read transaction) while the file changes.
	readCtx, stopReaders := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	readers := make([]*sqliteReader, 2)
	for i := range readers {
		readers[i] = startSQLiteReader(t, readCtx, &wg, out, fmt.Sprint(b.total))
	}
	rng := rand.New(rand.NewPCG(1, 2))
	for range 60 {
		b.transfer(rng)
	}
	want, err := bankState(b.w.DB())
	if err != nil {
		t.Fatal(err)
	}
	check, err := sql.Open("sqlite3", "file:"+out+"?_busy_timeout=10000&mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer check.Close()
	testenv.Eventually(t, 20*time.Second, func() (bool, string) {
		got, err := bankState(check)
		return err == nil && got == want, fmt.Sprintf("the followed file is at %s (%v), never reached the replica's last state %s (TXID %s): %s",
			got, err, want, b.w.TXID(), stderr.String())
	})
	stopReaders()
	wg.Wait()
	for i, r := range readers {
		if r.err != nil {
			t.Errorf("reader %d, after %d reads: %v", i, r.reads, r.err)
		}
		if r.reads < 10 {
			t.Errorf("reader %d read only %d times", i, r.reads)
		}
		if r.err == nil {
			t.Logf("reader %d: %d statements, all saw balances adding up", i, r.reads)
		}
	}
	check.Close()

	stop()
	if code != 0 {
		t.Fatalf("restore -f exited %d after its context ended: %s", code, stderr.String())
	}
	if !strings.Contains(stderr.String(), "stopped following at TXID "+b.w.TXID().String()) {
		t.Errorf("no final TXID: %s", stderr.String())
	}
	if _, err := os.Stat(out + "-journal"); err == nil {
		t.Error("a journal was left behind")
	}
	if got := sqlite3Shell(t, out, "pragma integrity_check; pragma journal_mode"); got != "ok\ndelete" {
		t.Errorf("sqlite3 on the followed file: %q", got)
	}
}

// When level 0 has a gap (files compacted and removed before the follower
// saw them), the follower continues through the compacted file.
func TestFollowAcrossCompactedGap(t *testing.T) {
	b := newBank(t)
	out := filepath.Join(t.TempDir(), "out.db")
	strata(t, "restore", "-o", out, b.rep).want(t, 0)
	start := b.w.TXID()
	rng := rand.New(rand.NewPCG(3, 4))
	for range 10 {
		b.transfer(rng)
	}
	b.w.Compact(1, start+1, b.w.TXID())
	b.w.Delete(0, start+1, b.w.TXID()-2) // the last two level-0 files stay
	want, _ := bankState(b.w.DB())

	fl := openFollower(t, b.rep, out, start)
	if more, err := fl.update(context.Background()); err != nil || more {
		t.Fatalf("update: more %v, %v", more, err)
	}
	if fl.txid != b.w.TXID() {
		t.Errorf("follower at TXID %s, want %s", fl.txid, b.w.TXID())
	}
	if got := sqlite3Shell(t, out, bankQuery); got != want {
		t.Errorf("after the gap: %s, want %s", got, want)
	}
}

// openFollower is a follower of rep for out, restored at txid (the file
// is marked as a followed one first, as restore -f does).
func openFollower(t testing.TB, rep, out string, txid interface{ String() string }) *follower {
	t.Helper()
	store, err := filestore.New(rep)
	if err != nil {
		t.Fatal(err)
	}
	f, err := os.OpenFile(out, os.O_RDWR, 0)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	if err := markFollowed(f, planCommit(f)); err != nil {
		t.Fatal(err)
	}
	ps, err := pageSizeOf(f)
	if err != nil {
		t.Fatal(err)
	}
	id, err := replica.ParseTXID(txid.String())
	if err != nil {
		t.Fatal(err)
	}
	return &follower{r: replica.New(store), f: f, path: out, txid: id, pageSize: ps, log: cliLogger(), stderr: &bytes.Buffer{}}
}

// An update interrupted halfway (the process killed between page writes)
// leaves OUT-journal, and the next SQLite connection that opens the file,
// the real sqlite3 shell here, rolls the update back: readers see the
// state before it, whole.
func TestFollowCrashIsRolledBackBySQLite(t *testing.T) {
	b := newBank(t)
	out := filepath.Join(t.TempDir(), "out.db")
	strata(t, "restore", "-o", out, b.rep).want(t, 0)
	before := sqlite3Shell(t, out, bankQuery)
	start := b.w.TXID()
	// One large transaction: many pages change, and the file grows.
	b.w.Exec(`update acct set bal = bal + 1 where id % 2 = 0; update acct set bal = bal - 1 where id % 2 = 1; insert into acct(bal, pad) select 0, randomblob(3000) from acct`)

	fl := openFollower(t, b.rep, out, start)
	fl.crashAfter = 5
	if _, err := fl.update(context.Background()); err == nil || !strings.Contains(err.Error(), "simulated crash") {
		t.Fatalf("update: %v, want the simulated crash", err)
	}
	if _, err := os.Stat(out + "-journal"); err != nil {
		t.Fatalf("no journal after a crash: %v", err)
	}
	fl.f.Close()
	if got := sqlite3Shell(t, out, bankQuery); got != before {
		t.Errorf("after the crash sqlite3 sees %s, want the state before the update: %s", got, before)
	}
	if got := sqlite3Shell(t, out, "pragma integrity_check"); got != "ok" {
		t.Errorf("integrity_check after the rollback: %s", got)
	}
	if _, err := os.Stat(out + "-journal"); err == nil {
		t.Error("sqlite3 did not roll the journal back")
	}
}

// sqliteReader is a sqlite3 shell process reading a database over and
// over: the total balance, and a quick_check now and then.
type sqliteReader struct {
	reads int
	err   error
}

func startSQLiteReader(t testing.TB, ctx context.Context, wg *sync.WaitGroup, path, wantSum string) *sqliteReader {
	t.Helper()
	bin, err := exec.LookPath("sqlite3")
	if err != nil {
		t.Fatal("the sqlite3 shell is needed (apt-get install sqlite3, or make test-deps)")
	}
	cmd := exec.Command(bin, "-bail", path)
	in, err := cmd.StdinPipe()
	if err != nil {
		t.Fatal(err)
	}
	outPipe, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	var errOut syncBuffer
	cmd.Stderr = &errOut
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	r := &sqliteReader{}
	wg.Go(func() {
		defer in.Close()
		io.WriteString(in, ".timeout 20000\n")
		for i := 0; ctx.Err() == nil; i++ {
			if _, err := io.WriteString(in, "select sum(bal) from acct;\n"); err != nil {
				return
			}
			if i%10 == 0 {
				io.WriteString(in, "pragma quick_check;\n")
			}
		}
	})
	wg.Go(func() {
		sc := bufio.NewScanner(outPipe)
		for sc.Scan() {
			if line := sc.Text(); line != wantSum && line != "ok" && r.err == nil {
				r.err = fmt.Errorf("sqlite3 read %q (want the sum %s, or ok)", line, wantSum)
			}
			r.reads++
		}
		if err := cmd.Wait(); err != nil && r.err == nil {
			r.err = fmt.Errorf("sqlite3: %v: %s", err, errOut.String())
		}
	})
	return r
}
