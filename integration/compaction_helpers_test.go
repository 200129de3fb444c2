package integration

import (
	"context"
	"crypto/sha256"
	"database/sql"
	"encoding/hex"
	"fmt"
	"math/rand/v2"
	"os"
	"path/filepath"
	"sort"
	"sync"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage"
	"github.com/superfly/ltx"
)

// bank is a writer that moves money between accounts, one transfer per
// LTX file, and remembers every state it uploaded: the invariant (the
// total never changes) and the truth (what each TXID holds).
type soakBank struct {
	w   *ltxtest.Writer
	rng *rand.Rand

	mu     sync.Mutex
	states map[ltx.TXID]bankState
	last   time.Time // the commit time the writer stamped last
}

// bankState is what a reader sees of one state: the TXID counter kept in
// the database and a digest of every balance.
type bankState struct {
	counter int64
	digest  string
	at      time.Time // commit time (the LTX header's, in ms)
}

const (
	soakAccounts = 200
	soakTotal    = soakAccounts * 1000
)

// bankQuery reads a state in one statement, so in one read transaction.
const bankQuery = `select (select v from meta where k = 'counter'), (select sum(balance) from accounts),
	(select count(*) from accounts), (select group_concat(balance, ',') from (select balance from accounts order by id))`

func newSoakBank(t testing.TB, store storage.Backend) *soakBank {
	t.Helper()
	b := &soakBank{rng: rand.New(rand.NewPCG(1, 2)), states: make(map[ltx.TXID]bankState)}
	b.w = ltxtest.NewWriter(t, store, filepath.Join(t.TempDir(), "bank.db"), ltxtest.Clock(b.clock))
	for _, q := range []string{
		`create table accounts(id integer primary key, balance integer, pad text)`,
		`create table meta(k text primary key, v integer)`,
		`create table history(id integer primary key, a integer, b integer, amount integer, note text)`,
		`insert into meta values ('counter', 0)`,
		fmt.Sprintf(`with recursive n(i) as (select 1 union all select i+1 from n where i < %d)
			insert into accounts select i, 1000, hex(randomblob(100)) from n`, soakAccounts),
	} {
		if _, err := b.w.DB().Exec(q); err != nil {
			t.Fatalf("%s: %v", q, err)
		}
	}
	if err := b.commit(); err != nil {
		t.Fatal(err)
	}
	return b
}

// clock stamps commit times, and notes them for the truth.
func (b *soakBank) clock() time.Time {
	now := time.Now()
	b.mu.Lock()
	b.last = now.Truncate(time.Millisecond)
	b.mu.Unlock()
	return now
}

// transfer commits one transfer (now and then a cleanup of the history, or
// a VACUUM that makes the database smaller) as the next TXID.
func (b *soakBank) transfer() error {
	a, c := 1+b.rng.IntN(soakAccounts), 1+b.rng.IntN(soakAccounts)
	x := b.rng.IntN(100)
	txid := b.w.TXID() + 1
	stmts := []string{
		fmt.Sprintf(`update accounts set balance = balance - %d where id = %d`, x, a),
		fmt.Sprintf(`update accounts set balance = balance + %d where id = %d`, x, c),
		`update meta set v = v + 1 where k = 'counter'`,
		fmt.Sprintf(`insert into history(a, b, amount, note) values (%d, %d, %d, hex(randomblob(60)))`, a, c, x),
	}
	if txid%50 == 0 {
		stmts = append(stmts, `delete from history where id < (select max(id) - 100 from history)`)
	}
	tx, err := b.w.DB().Begin()
	if err != nil {
		return err
	}
	for _, q := range stmts {
		if _, err := tx.Exec(q); err != nil {
			tx.Rollback()
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	if err := tx.Commit(); err != nil {
		return err
	}
	if txid%400 == 0 {
		if _, err := b.w.DB().Exec(`vacuum`); err != nil {
			return err
		}
	}
	return b.commit()
}

// commit uploads the local database's changes as the next TXID. Its truth
// is recorded first: a reader may see the new state before the upload
// call returns.
func (b *soakBank) commit() error {
	s, err := readBank(b.w.DB())
	if err != nil {
		return err
	}
	txid := b.w.TXID() + 1
	b.mu.Lock()
	b.states[txid] = s
	b.mu.Unlock()
	f, err := b.w.TryCommit()
	if err != nil {
		return err
	}
	if f.MaxTXID != txid {
		return fmt.Errorf("uploaded TXID %s, expected %s", f.MaxTXID, txid)
	}
	b.mu.Lock()
	defer b.mu.Unlock()
	s.at = b.last
	b.states[txid] = s
	return nil
}

// state is the truth of txid.
func (b *soakBank) state(txid ltx.TXID) (bankState, bool) {
	b.mu.Lock()
	defer b.mu.Unlock()
	s, ok := b.states[txid]
	return s, ok
}

type querier2 interface {
	QueryRowContext(ctx context.Context, query string, args ...any) *sql.Row
}

// readBank reads a state and checks the invariant.
func readBank(q querier2) (bankState, error) {
	var s bankState
	var sum, n int64
	var balances string
	if err := q.QueryRowContext(context.Background(), bankQuery).Scan(&s.counter, &sum, &n, &balances); err != nil {
		return s, err
	}
	if sum != soakTotal || n != soakAccounts {
		return s, fmt.Errorf("%w: %d accounts holding %d (want %d holding %d) at counter %d", errInvariant, n, sum, soakAccounts, soakTotal, s.counter)
	}
	h := sha256.Sum256([]byte(balances))
	s.digest = hex.EncodeToString(h[:8])
	return s, nil
}

var errInvariant = fmt.Errorf("invariant violated")

// reachableTXIDs are the states a restore can reach from files.
func reachableTXIDs(files []storage.FileInfo) []ltx.TXID {
	ends := map[ltx.TXID]bool{}
	for _, f := range files {
		ends[f.MaxTXID] = true
	}
	var out []ltx.TXID
	for txid := range ends {
		if _, err := replica.BuildPlan(files, txid); err == nil {
			out = append(out, txid)
		}
	}
	sort.Slice(out, func(i, j int) bool { return out[i] < out[j] })
	return out
}

// listLowToHigh lists level 0 first, then the levels above it: a file
// deleted once a higher level covers it is seen, or its cover is.
func listLowToHigh(ctx context.Context, r *replica.Replica) ([]storage.FileInfo, error) {
	var all []storage.FileInfo
	for level := 0; level <= storage.MaxLevel; level++ {
		files, err := r.List(ctx, level, 0)
		if err != nil {
			return nil, err
		}
		all = append(all, files...)
	}
	return all, nil
}

// restoreState restores txid from files into a new database and reads it.
func restoreState(t testing.TB, r *replica.Replica, files []storage.FileInfo, txid ltx.TXID, dir string) bankState {
	t.Helper()
	plan, err := replica.BuildPlan(files, txid)
	if err != nil {
		t.Fatalf("plan TXID %s: %v", txid, err)
	}
	path := filepath.Join(dir, fmt.Sprintf("%s.db", txid))
	defer os.Remove(path)
	fh, err := os.Create(path)
	if err != nil {
		t.Fatal(err)
	}
	err = r.Restore(context.Background(), plan, fh, replica.RestoreOptions{})
	fh.Close()
	if err != nil {
		t.Fatalf("restore TXID %s: %v", txid, err)
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	s, err := readBank(db)
	if err != nil {
		t.Fatalf("restored TXID %s (plan %v): %v", txid, plan.Files, err)
	}
	return s
}

// overlaps names two files of one level (1-8) whose ranges overlap.
func overlaps(files []storage.FileInfo) string {
	byLevel := map[int][]storage.FileInfo{}
	for _, f := range files {
		if f.Level > 0 && f.Level < storage.SnapshotLevel {
			byLevel[f.Level] = append(byLevel[f.Level], f)
		}
	}
	for level, fs := range byLevel {
		storage.SortFiles(fs)
		for i := 1; i < len(fs); i++ {
			if fs[i].MinTXID <= fs[i-1].MaxTXID {
				return fmt.Sprintf("level %d: %s overlaps %s", level, fs[i-1], fs[i])
			}
		}
	}
	return ""
}

// openReplicaErr opens a replica through the VFS, for goroutines that
// cannot fail the test themselves.
func openReplicaErr(url string, params ...string) (*sql.DB, error) {
	return sql.Open("sqlite3", replicaDSN(url, params...))
}
