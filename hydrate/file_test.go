package hydrate

import (
	"bytes"
	"context"
	"database/sql"
	"errors"
	"os"
	"path/filepath"
	"testing"

	_ "github.com/mattn/go-sqlite3"
	"github.com/strata-db/strata/internal/ltxtest"
	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
)

const (
	replicaA = "file:///replicas/a"
	replicaB = "file:///replicas/b"
)

func readState(t *testing.T, path string) State {
	t.Helper()
	s, ok, err := ReadState(path)
	if err != nil || !ok {
		t.Fatalf("sidecar of %s: %v (exists: %v)", path, err, ok)
	}
	return s
}

// A new file is claimed at once: its sidecar names the replica, nothing
// restored, and no temporary file is left beside it.
func TestOpenClaimsANewFile(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "sub", "db")
	f, err := Open(path, replicaA)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	s := readState(t, path)
	if s.Replica != replicaA || s.Phase != Restoring || s.PID != os.Getpid() || s.Format != sidecarFormat {
		t.Errorf("sidecar of a new file: %+v", s)
	}
	entries, _ := os.ReadDir(filepath.Dir(path))
	if len(entries) != 2 {
		t.Errorf("directory holds %d entries, want the file and its sidecar: %v", len(entries), entries)
	}
}

// Open refuses what is not this replica's hydrated file, and a file
// another owner has open; it never changes such a file.
func TestOpenRefuses(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "db")
	f, err := Open(path, replicaA)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := Open(path, replicaA); !errors.Is(err, ErrLocked) {
		t.Errorf("a second open of a file in use: %v, want ErrLocked", err)
	}
	f.Close()
	if _, err := Open(path, replicaB); !errors.Is(err, ErrOtherReplica) {
		t.Errorf("another replica's file: %v, want ErrOtherReplica", err)
	}
	f, err = Open(path, replicaA)
	if err != nil {
		t.Fatalf("reopening one's own file: %v", err)
	}
	f.Close()

	foreign := filepath.Join(dir, "mine.db")
	os.WriteFile(foreign, []byte("data"), 0o644)
	if _, err := Open(foreign, replicaA); !errors.Is(err, ErrForeign) {
		t.Errorf("a file without a sidecar: %v, want ErrForeign", err)
	}
	if b, _ := os.ReadFile(foreign); string(b) != "data" {
		t.Errorf("the foreign file changed: %q", b)
	}

	torn := filepath.Join(dir, "torn.db")
	os.WriteFile(torn+SidecarSuffix, []byte(`{"format":1,"repl`), 0o644)
	if _, err := Open(torn, replicaA); !errors.Is(err, ErrForeign) {
		t.Errorf("an unreadable sidecar: %v, want ErrForeign", err)
	}

	empty := filepath.Join(dir, "empty.db")
	os.WriteFile(empty, nil, 0o644)
	f, err = Open(empty, replicaA)
	if err != nil {
		t.Errorf("an empty file without a sidecar is free to claim: %v", err)
	} else {
		f.Close()
	}
}

// testReplica is a replica whose local database is in WAL mode, as
// Litestream's sources are.
func testReplica(t *testing.T) (*ltxtest.Writer, *replica.Replica, string) {
	t.Helper()
	dir := t.TempDir()
	store, err := filestore.New(filepath.Join(dir, "replica"))
	if err != nil {
		t.Fatal(err)
	}
	local := filepath.Join(dir, "local.db")
	w := ltxtest.NewWriter(t, store, local)
	w.Exec(`pragma journal_mode = wal`)
	w.Exec(`create table t(id integer primary key, v blob)`)
	return w, replica.New(store), local
}

// expectDatabase checks that the file at path is the database at local,
// except bytes 18-19 of page 1, which say rollback journal.
func expectDatabase(t *testing.T, path, local string) {
	t.Helper()
	got, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	want, err := os.ReadFile(local)
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != len(want) {
		t.Fatalf("file has %d bytes, the database %d", len(got), len(want))
	}
	if got[18] != 1 || got[19] != 1 {
		t.Errorf("page 1 bytes 18-19 = %d %d, want 1 1 (rollback journal)", got[18], got[19])
	}
	want = bytes.Clone(want)
	want[18], want[19] = 1, 1
	if !bytes.Equal(got, want) {
		t.Error("file differs from the database")
	}
}

// Restore makes the file the database of the plan, through a shrink and a
// regrowth on the way, and marks it complete; plain SQLite opens it
// (rollback journal, though the source was in WAL mode).
func TestRestore(t *testing.T) {
	w, rep, local := testReplica(t)
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 300)
		insert into t(v) select randomblob(2000) from n`)
	w.Exec(`delete from t where id > 10`)
	w.Exec(`vacuum`) // shrinks the database
	w.Exec(`with recursive n(i) as (select 1 union all select i+1 from n where i < 50)
		insert into t(v) select zeroblob(3000) from n`)
	ctx := context.Background()
	plan, err := rep.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	path := filepath.Join(t.TempDir(), "db")
	f, err := Open(path, replicaA)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	var last, total int64
	if err := f.Restore(ctx, rep, plan, RestoreOptions{Progress: func(done, all int64) { last, total = done, all }}); err != nil {
		t.Fatal(err)
	}
	if last != total || total == 0 {
		t.Errorf("progress ended at %d of %d", last, total)
	}
	expectDatabase(t, path, local)
	s := readState(t, path)
	if s.Phase != Complete || s.TXID != w.TXID() || s.Plan != nil {
		t.Errorf("sidecar after the restore: %+v, want complete at %s", s, w.TXID())
	}
	db, err := sql.Open("sqlite3", "file:"+path+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n int
	if err := db.QueryRow(`select count(*) from t`).Scan(&n); err != nil || n != 60 {
		t.Errorf("plain SQLite on the file: %d rows, %v; want 60", n, err)
	}
}

// An update announces itself in the sidecar before the first page is
// written: until Commit the sidecar claims no state, so a crash in
// between never leaves it claiming one the file does not hold.
func TestUpdateProtocol(t *testing.T) {
	w, rep, local := testReplica(t)
	ctx := context.Background()
	plan, _ := rep.Plan(ctx, replica.Latest())
	path := filepath.Join(t.TempDir(), "db")
	f, err := Open(path, replicaA)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	if _, err := f.BeginUpdate(plan.TXID+1, 4096); err == nil {
		t.Error("an update of a file that holds nothing was allowed")
	}
	if err := f.Restore(ctx, rep, plan, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	before := readState(t, path)
	u, err := f.BeginUpdate(before.TXID+1, before.PageSize)
	if err != nil {
		t.Fatal(err)
	}
	if s := readState(t, path); s.Phase != Updating || s.TXID != before.TXID || s.Target != before.TXID+1 {
		t.Errorf("sidecar during an update: %+v", s)
	}
	w.Exec(`insert into t(v) values (randomblob(5000))`)
	image, _ := os.ReadFile(local)
	ps := int(before.PageSize)
	for pgno := 1; pgno*ps <= len(image); pgno++ {
		if err := u.WritePage(uint32(pgno), image[(pgno-1)*ps:pgno*ps]); err != nil {
			t.Fatal(err)
		}
	}
	if err := u.Commit(uint32(len(image) / ps)); err != nil {
		t.Fatal(err)
	}
	if s := readState(t, path); s.Phase != Complete || s.TXID != before.TXID+1 || s.Pages != uint32(len(image)/ps) {
		t.Errorf("sidecar after the update: %+v", s)
	}
	expectDatabase(t, path, local)
}

// A sidecar that claims a state the file no longer has (the file was
// removed or replaced) is not believed: the file is restored anew.
func TestOpenDistrustsAFileThatChanged(t *testing.T) {
	_, rep, _ := testReplica(t)
	ctx := context.Background()
	plan, _ := rep.Plan(ctx, replica.Latest())
	path := filepath.Join(t.TempDir(), "db")
	f, err := Open(path, replicaA)
	if err != nil {
		t.Fatal(err)
	}
	if err := f.Restore(ctx, rep, plan, RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	f.Close()
	for name, change := range map[string]func(){
		"removed":   func() { os.Remove(path) },
		"truncated": func() { os.Truncate(path, 100) },
		"replaced":  func() { os.WriteFile(path, bytes.Repeat([]byte{7}, int(readState(t, path).Pages)*4096), 0o644) },
	} {
		t.Run(name, func(t *testing.T) {
			f, err := Open(path, replicaA)
			if err != nil {
				t.Fatal(err)
			}
			if err := f.Restore(ctx, rep, plan, RestoreOptions{}); err != nil { // back to complete for the next case
				t.Fatal(err)
			}
			f.Close()
			change()
			f, err = Open(path, replicaA)
			if err != nil {
				t.Fatal(err)
			}
			defer f.Close()
			if s := f.State(); s.Phase != Restoring {
				t.Errorf("after the file was %s, the state is %s, want restoring", name, s.Phase)
			}
		})
	}
}
