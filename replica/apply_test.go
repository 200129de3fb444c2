package replica_test

import (
	"context"
	"errors"
	"testing"

	"github.com/strata-db/strata/replica"
	"github.com/superfly/ltx"
)

// ApplyFiles hands out every page of every planned file, in plan order,
// each file's header once its checksum is verified; an error of the
// caller's comes back unchanged and stops the apply.
func TestApplyFiles(t *testing.T) {
	r := fixtureReplica(t)
	ctx := context.Background()
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	var pages, files int
	err = r.ApplyFiles(ctx, plan.Files, replica.ApplyOptions{Parallel: 4, Chain: true}, func(pgno uint32, data []byte) error {
		if pgno == 0 || len(data) == 0 {
			t.Errorf("page %d of %d bytes", pgno, len(data))
		}
		pages++
		return nil
	}, func(i int, hdr ltx.Header) error {
		if i != files || hdr.MaxTXID != plan.Files[i].MaxTXID {
			t.Errorf("done(%d) with TXID %s, want file %d (%s)", i, hdr.MaxTXID, files, plan.Files[files])
		}
		files++
		return nil
	})
	if err != nil {
		t.Fatal(err)
	}
	if files != len(plan.Files) || pages == 0 {
		t.Errorf("%d files and %d pages handed out, plan has %d files", files, pages, len(plan.Files))
	}

	mine := errors.New("disk full")
	calls := 0
	err = r.ApplyFiles(ctx, plan.Files, replica.ApplyOptions{Parallel: 4, Chain: true}, func(uint32, []byte) error {
		calls++
		return mine
	}, func(int, ltx.Header) error { return nil })
	if err != mine || calls != 1 {
		t.Errorf("a page error: %v after %d calls, want the caller's error unchanged after 1", err, calls)
	}
}

// DecodeFile verifies the checksum of a file read whole: a flipped byte is
// a corrupt file.
func TestDecodeFileVerifies(t *testing.T) {
	r := fixtureReplica(t)
	ctx := context.Background()
	plan, err := r.Plan(ctx, replica.Latest())
	if err != nil {
		t.Fatal(err)
	}
	f := plan.Files[len(plan.Files)-1]
	data, err := r.ReadAt(ctx, f, 0, f.Size)
	if err != nil {
		t.Fatal(err)
	}
	noop := func(uint32, []byte) error { return nil }
	if _, err := r.DecodeFile(ctx, f, data, noop); err != nil {
		t.Fatalf("a good file: %v", err)
	}
	data[len(data)-ltx.TrailerSize-1] ^= 0xff // inside the page index
	var ce *replica.CorruptError
	if _, err := r.DecodeFile(ctx, f, data, noop); !errors.As(err, &ce) {
		t.Errorf("a damaged file: %v, want a CorruptError", err)
	}
}
