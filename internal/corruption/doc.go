// Package corruption holds the corruption suite of strata: it damages the
// LTX files of small replicas (files read whole) and large ones (files
// read by range) in every region and at every structural boundary,
// forges files whose checksum is valid but whose content is wrong, adds
// junk named like LTX files and timestamps that go back in time, and
// checks that every read path (restore, and queries through the strata
// VFS) either returns the correct data or an error naming the damaged
// file. `go test ./internal/corruption -v` prints the counts; the fuzz
// targets (FuzzReadPath) run in CI for a few seconds each.
//
// The package has no code of its own: everything is in its tests.
package corruption
