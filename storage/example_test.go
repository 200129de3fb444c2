package storage_test

import (
	"context"
	"errors"
	"fmt"
	"os"

	"github.com/strata-db/strata/storage"
	"github.com/strata-db/strata/storage/filestore"
)

// A poller built on a MetaStore: one cheap conditional read per poll, a
// listing only when the object changed or cannot be used.
func ExampleMetaStore() {
	ctx := context.Background()
	dir, _ := os.MkdirTemp("", "replica")
	defer os.RemoveAll(dir)
	b, _ := filestore.New(dir) // any backend: every one is a MetaStore
	ms := storage.MetaStore(b)

	// A writer updates the object after each commit.
	_ = ms.WriteMeta(ctx, "strata-head.json", []byte(`{"txid":"0000000000000007"}`))

	var token string
	for poll := 1; poll <= 2; poll++ {
		data, newToken, err := ms.ReadMeta(ctx, "strata-head.json", token)
		switch {
		case errors.Is(err, storage.ErrNotModified):
			fmt.Printf("poll %d: unchanged, nothing to list\n", poll)
		case errors.Is(err, storage.ErrNotFound):
			fmt.Printf("poll %d: no head object (a Litestream replica): list instead\n", poll)
		case err != nil:
			fmt.Printf("poll %d: %v: list instead\n", poll, err)
		default:
			token = newToken
			fmt.Printf("poll %d: changed: %s\n", poll, data)
		}
	}
	// Output:
	// poll 1: changed: {"txid":"0000000000000007"}
	// poll 2: unchanged, nothing to list
}
