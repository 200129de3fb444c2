package main

import (
	"context"
	"database/sql"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"time"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/fixture"
	"github.com/superfly/ltx"
)

// gap is the least time between one state's level-0 file appearing and the
// next commit: twice the margin fixture.TimeFor promises on either side of
// a state's header time, and long enough that a whole second (a readable
// time for examples) always falls clearly between two commits.
const gap = 1500 * time.Millisecond

// generator writes one fixture.
type generator struct {
	w    workload
	bin  string // litestream
	keep bool

	work    string // working directory: the database, litestream.yml, its log
	replica string // the replica litestream writes, under work
	db      *sql.DB
	ls      *replicator
}

func (g *generator) run(ctx context.Context, dst string) (err error) {
	if g.work, err = os.MkdirTemp("", "strata-fixture-"+g.w.name+"-"); err != nil {
		return err
	}
	if g.keep {
		fmt.Fprintf(os.Stderr, "    working directory %s (kept)\n", g.work)
	} else {
		defer os.RemoveAll(g.work)
	}
	g.replica = filepath.Join(g.work, "replica")
	dbPath := filepath.Join(g.work, g.w.name+".db")
	if err := g.create(dbPath); err != nil {
		return err
	}
	defer g.db.Close()

	cfg := filepath.Join(g.work, "litestream.yml")
	if err := writeConfig(cfg, g.w, dbPath, g.replica); err != nil {
		return err
	}
	if g.ls, err = startReplicate(g.bin, cfg, filepath.Join(g.work, "litestream.log")); err != nil {
		return err
	}
	defer func() {
		if stopErr := g.ls.stop(); err == nil {
			err = stopErr
		}
	}()
	// TXID 1 is the schema; litestream snapshots it (level 9) at start.
	// Waiting for that snapshot keeps it from catching a later state.
	if err := g.await(ctx, "the first level-0 file and snapshot", 30*time.Second, func(files []replFile) (bool, string) {
		return has(files, 0, 1) && has(files, 9, 1), ""
	}); err != nil {
		return err
	}

	states, err := g.steps(ctx)
	if err != nil {
		return err
	}
	last := uint64(states[len(states)-1].TXID)
	if err := g.await(ctx, "the compaction levels", 60*time.Second, func(files []replFile) (bool, string) {
		return g.w.levelsReady(files, last)
	}); err != nil {
		return err
	}
	if err := g.ls.stop(); err != nil {
		return err
	}
	files, err := listReplica(g.replica)
	if err != nil {
		return err
	}
	if err := checkFinal(files, last); err != nil {
		return err
	}
	tr := fixture.History{
		Fixture:    g.w.name,
		Litestream: litestreamVersion,
		PageSize:   g.w.pageSize,
		Check:      g.w.check,
		Tables:     g.w.tables,
		States:     states,
	}
	if err := g.verify(ctx, tr); err != nil {
		return err
	}
	return install(g.replica, tr, dst, files)
}

// create makes the database in WAL mode with the workload's schema.
// Checkpoints are left to litestream (wal_autocheckpoint=0), as its
// documentation advises for a writer it replicates.
func (g *generator) create(path string) error {
	db, err := sql.Open("sqlite3", "file:"+path+"?_txlock=immediate&_busy_timeout=10000")
	if err != nil {
		return err
	}
	db.SetMaxOpenConns(1)
	g.db = db
	stmts := append([]string{
		fmt.Sprintf(`pragma page_size = %d`, g.w.pageSize),
		`pragma journal_mode = wal`,
		`pragma wal_autocheckpoint = 0`,
	}, g.w.schema...)
	for _, q := range stmts {
		if _, err := db.Exec(q); err != nil {
			return fmt.Errorf("%s: %w", q, err)
		}
	}
	return nil
}

// steps runs the workload, one transaction per state, and records each.
func (g *generator) steps(ctx context.Context) ([]fixture.State, error) {
	var states []fixture.State
	txid := ltx.TXID(1)
	for i, st := range g.w.steps {
		if i > 0 {
			select {
			case <-time.After(gap):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
		}
		if err := g.apply(st); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i, st.after, err)
		}
		s := fixture.State{After: st.after, TXID: txid + 1, UnixMS: time.Now().UnixMilli()}
		if err := g.measure(&s); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i, st.after, err)
		}
		txid++
		if err := g.await(ctx, fmt.Sprintf("the level-0 file of TXID %s (%s)", txid, st.after), 30*time.Second, func(files []replFile) (bool, string) {
			return has(files, 0, uint64(txid)), ""
		}); err != nil {
			return nil, err
		}
		if err := g.checkL0(&s); err != nil {
			return nil, fmt.Errorf("step %d (%s): %w", i, st.after, err)
		}
		fmt.Fprintf(os.Stderr, "    TXID %s %-34s count %6d  sum %10d  %5d pages\n", s.TXID, s.After, s.Count, s.Sum, s.Pages)
		states = append(states, s)
	}
	return states, nil
}

func (g *generator) apply(st step) error {
	if st.run == nil {
		_, err := g.db.Exec(`vacuum`)
		return err
	}
	tx, err := g.db.Begin()
	if err != nil {
		return err
	}
	if err := st.run(tx); err != nil {
		tx.Rollback()
		return err
	}
	return tx.Commit()
}

// measure records the check values, size and checksum of the database as
// the writer sees it just after the commit.
func (g *generator) measure(s *fixture.State) error {
	var sum sql.NullInt64
	if err := g.db.QueryRow(g.w.check).Scan(&s.Count, &sum); err != nil {
		return fmt.Errorf("%s: %w", g.w.check, err)
	}
	s.Sum = sum.Int64
	if err := g.db.QueryRow(`pragma page_count`).Scan(&s.Pages); err != nil {
		return err
	}
	var err error
	s.SHA256, err = fixture.Checksum(g.db, g.w.tables)
	return err
}

// checkL0 reads the state's level-0 header: its commit time, and whether
// litestream saw the database the writer did (same size, one transaction).
func (g *generator) checkL0(s *fixture.State) error {
	h, err := fixture.ReadHeader(fixture.L0(g.replica, s.TXID))
	if err != nil {
		return err
	}
	if h.MinTXID != s.TXID || h.MaxTXID != s.TXID {
		return fmt.Errorf("level-0 file of TXID %s covers TXIDs %s-%s", s.TXID, h.MinTXID, h.MaxTXID)
	}
	if h.Commit != s.Pages || int(h.PageSize) != g.w.pageSize {
		return fmt.Errorf("TXID %s: header says %d pages of %d bytes, the writer has %d pages of %d", s.TXID, h.Commit, h.PageSize, s.Pages, g.w.pageSize)
	}
	s.CommitUnixMS = h.Timestamp
	files, err := listReplica(g.replica)
	if err != nil {
		return err
	}
	for _, f := range files {
		if f.level == 0 && f.max > uint64(s.TXID) {
			return fmt.Errorf("litestream wrote %s after TXID %s without a commit of ours", f, s.TXID)
		}
	}
	return nil
}

// await polls the replica until ready says so, litestream exits, or the
// timeout passes (then the error says what was missing).
func (g *generator) await(ctx context.Context, what string, timeout time.Duration, ready func([]replFile) (bool, string)) error {
	deadline := time.Now().Add(timeout)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		files, err := listReplica(g.replica)
		if err != nil && !errors.Is(err, os.ErrNotExist) {
			return err
		}
		ok, why := ready(files)
		if ok {
			return nil
		}
		if err := g.ls.exited(); err != nil {
			return fmt.Errorf("waiting for %s: %w", what, err)
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("no %s after %s (%s); replica holds %v; litestream's log:\n%s", what, timeout, why, files, g.ls.tail())
		}
		select {
		case <-tick.C:
		case <-ctx.Done():
			return ctx.Err()
		}
	}
}

// verify restores every state with `litestream restore -txid` and compares
// it with the truth: the fixture is right by Litestream's own reading,
// before strata's tests rely on it.
func (g *generator) verify(ctx context.Context, tr fixture.History) error {
	dir, err := os.MkdirTemp(g.work, "verify-")
	if err != nil {
		return err
	}
	for _, s := range tr.States {
		out := filepath.Join(dir, s.TXID.String()+".db")
		if err := restoreTXID(ctx, g.bin, g.replica, s.TXID.String(), out); err != nil {
			return err
		}
		got, err := measureFile(out, tr)
		if err != nil {
			return fmt.Errorf("restored TXID %s: %w", s.TXID, err)
		}
		if got.Count != s.Count || got.Sum != s.Sum || got.Pages != s.Pages || got.SHA256 != s.SHA256 {
			return fmt.Errorf("litestream restores TXID %s (%s) as count %d, sum %d, %d pages, sha256 %s; the writer had %d, %d, %d, %s",
				s.TXID, s.After, got.Count, got.Sum, got.Pages, got.SHA256, s.Count, s.Sum, s.Pages, s.SHA256)
		}
		os.Remove(out)
	}
	fmt.Fprintf(os.Stderr, "    litestream restore -txid gives the recorded state at each of the %d TXIDs\n", len(tr.States))
	return nil
}

// measureFile measures a restored database as the writer measured its own.
func measureFile(path string, tr fixture.History) (fixture.State, error) {
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		return fixture.State{}, err
	}
	defer db.Close()
	var ok string
	if err := db.QueryRow(`pragma integrity_check`).Scan(&ok); err != nil || ok != "ok" {
		return fixture.State{}, fmt.Errorf("integrity_check = %q, %v", ok, err)
	}
	g := generator{w: workload{check: tr.Check, tables: tr.Tables}, db: db}
	var s fixture.State
	return s, g.measure(&s)
}
