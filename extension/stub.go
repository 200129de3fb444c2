//go:build !SQLITE3VFS_LOADABLE_EXT

// Command extension is the strata SQLite loadable extension; it only
// builds as a shared library with the SQLITE3VFS_LOADABLE_EXT tag (see
// main.go and README.md). This stub keeps `go build ./...` and
// `go vet ./...` working without the tag.
package main

import (
	"fmt"
	"os"
)

func main() {
	fmt.Fprintln(os.Stderr, "the strata extension is a shared library: go build -buildmode=c-shared -tags SQLITE3VFS_LOADABLE_EXT -o bin/strata.so ./extension")
	os.Exit(2)
}
