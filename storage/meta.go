package storage

import (
	"context"
	"errors"
	"fmt"
	"regexp"
)

// MetaStore keeps small named objects (a few KiB: the manifest of a static
// replica, the head object a writer updates after each commit) at the
// replica's root, beside the level folders and never inside them, so that
// Litestream, which lists only the level folders, ignores them:
//
//	directory, GCS, Azure:  <prefix>/<name>    (LTX files are under <prefix>/ltx/)
//	S3:                     <prefix>/<name>    (LTX files are under <prefix>/<level %04x>/)
//	HTTP:                   <base URL>/<name>
//
// Reads are conditional, so that polling an unchanged object costs one
// cheap request and no body: pass the token the previous read returned,
// and an unchanged object gives ErrNotModified.
//
//   - directory: the token is made of the file's inode, size and
//     modification time (writes replace the file, so the inode changes
//     even within one clock tick); no read happens when it matches.
//   - S3, GCS, Azure: the object's ETag, sent as If-None-Match; the server
//     answers 304 Not Modified without a body.
//   - HTTP: the ETag (If-None-Match), or, from servers without ETags, the
//     Last-Modified date (If-Modified-Since) when it is at least a second
//     older than the server's clock, as RFC 9110 requires of a strong
//     validator; otherwise the next read is unconditional.
//
// Tokens are opaque: compare them only for equality, and only with tokens
// from the same backend. Every backend in this module implements MetaStore.
//
// A metadata object is a hint, never the truth: the LTX files are. A
// reader that finds it missing, stale or unreadable must fall back to
// listing.
type MetaStore interface {
	// ReadMeta returns the object's content and its token. When etag is
	// not empty and equals the object's current token, it returns
	// ErrNotModified and no data. A missing object gives ErrNotFound.
	// The token is empty when the backend cannot yet vouch for one (a web
	// server's object changed within the last second); the next read is
	// then unconditional.
	ReadMeta(ctx context.Context, name, etag string) (data []byte, newETag string, err error)

	// WriteMeta replaces the object atomically: readers see the old or the
	// new content, never a mix.
	WriteMeta(ctx context.Context, name string, data []byte) error
}

// ErrNotModified is returned by ReadMeta when the object still has the
// token the caller passed.
var ErrNotModified = errors.New("not modified")

// MaxMetaSize bounds a metadata object; ReadMeta refuses larger ones, so a
// wrong object at that name cannot exhaust memory.
const MaxMetaSize = 16 << 20

// metaName is what a metadata object may be called: lower case, with a dot
// (so it can be neither a level folder such as "0000" nor "ltx"), and no
// slash (so it stays at the root).
var metaName = regexp.MustCompile(`^[a-z0-9][a-z0-9_-]*(\.[a-z0-9_-]+)+$`)

// CheckMetaName reports whether name may be used with a MetaStore.
func CheckMetaName(name string) error {
	if len(name) > 128 || !metaName.MatchString(name) {
		return fmt.Errorf("metadata object name %q: want lower-case letters, digits, '-' or '_', with a dot, e.g. strata-head.json", name)
	}
	return nil
}

// ReadMeta reads a metadata object through b, which must implement
// MetaStore.
func ReadMeta(ctx context.Context, b Backend, name, etag string) ([]byte, string, error) {
	ms, ok := b.(MetaStore)
	if !ok {
		return nil, "", fmt.Errorf("%s: %w: metadata objects", b, errors.ErrUnsupported)
	}
	return ms.ReadMeta(ctx, name, etag)
}

// WriteMeta writes a metadata object through b, which must implement
// MetaStore.
func WriteMeta(ctx context.Context, b Backend, name string, data []byte) error {
	ms, ok := b.(MetaStore)
	if !ok {
		return fmt.Errorf("%s: %w: metadata objects", b, errors.ErrUnsupported)
	}
	return ms.WriteMeta(ctx, name, data)
}
