package dataset

import (
	"bytes"
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"testing"

	"github.com/strata-db/strata/replica"
	"github.com/strata-db/strata/storage/filestore"
)

// TestGenerateRestoresToFinalDB checks the whole chain: snapshot plus the
// level-0 files, restored, give exactly the database the generator left.
func TestGenerateRestoresToFinalDB(t *testing.T) {
	ctx := context.Background()
	cache := t.TempDir()
	p := Params{SizeMiB: 2, L0: 7, Seed: 1}
	d, err := Generate(ctx, cache, p)
	if err != nil {
		t.Fatal(err)
	}
	m := d.Meta
	if m.Files != 8 || m.MaxTXID != 8 || m.Bytes < 2<<20 || m.Bytes > 3<<20 || m.PageSize != 4096 {
		t.Errorf("meta %+v", m)
	}
	if m.Table.Depth < 2 || m.Index.Depth < 2 || m.Table.Pages+m.Index.Pages >= int(m.Pages) {
		t.Errorf("trees: table %+v, index %+v of %d pages", m.Table, m.Index, m.Pages)
	}
	checkRows(t, d)

	store, _ := filestore.New(d.ReplicaDir())
	r := replica.New(store)
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	if len(plan.Files) != 8 {
		t.Errorf("plan uses %d files, want 8", len(plan.Files))
	}
	out, err := os.Create(filepath.Join(t.TempDir(), "restored.db"))
	if err != nil {
		t.Fatal(err)
	}
	defer out.Close()
	if err := r.Restore(ctx, plan, out, replica.RestoreOptions{}); err != nil {
		t.Fatal(err)
	}
	want, _ := os.ReadFile(d.LocalDB())
	got, _ := os.ReadFile(out.Name())
	if !bytes.Equal(got, want) {
		t.Errorf("restored database (%d bytes) differs from final.db (%d bytes): pages %v",
			len(got), len(want), pgnos(DiffPages(want, got, m.PageSize)))
	}

	again, err := Generate(ctx, cache, p)
	if err != nil || again.Meta != d.Meta {
		t.Errorf("second Generate did not reuse the cache: %v", err)
	}
}

func checkRows(t *testing.T, d *Dataset) {
	t.Helper()
	db, err := sql.Open("sqlite3", "file:"+d.LocalDB()+"?mode=ro")
	if err != nil {
		t.Fatal(err)
	}
	defer db.Close()
	var n, maxID int64
	if err := db.QueryRow("SELECT count(*), max(id) FROM rows").Scan(&n, &maxID); err != nil {
		t.Fatal(err)
	}
	if n != d.Meta.Rows || maxID != d.Meta.Rows {
		t.Errorf("%d rows up to id %d, meta says %d", n, maxID, d.Meta.Rows)
	}
	var id int64
	if err := db.QueryRow("SELECT id FROM rows WHERE k = ?", Key(n)).Scan(&id); err != nil || id != n {
		t.Errorf("lookup by Key(%d): id %d, %v", n, id, err)
	}
}
