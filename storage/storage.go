// Package storage defines the small interface every replica backend
// implements (a directory, S3, Google Cloud Storage, Azure Blob Storage, a
// static web server) and the helpers shared by all of them: error
// classes, retries, small metadata objects, the manifest of static
// replicas, and wrappers that log or count requests.
//
// A backend knows nothing about SQLite or the restore plan: it lists, reads
// byte ranges of, writes and deletes LTX files named by (level, minTXID,
// maxTXID). Everything above it is backend-agnostic; only the package
// storage/backends maps URL schemes to backends.
package storage

import (
	"context"
	"errors"
	"fmt"
	"io"
	"sort"
	"time"

	"github.com/superfly/ltx"
)

// SnapshotLevel is the level that holds full snapshots (minTXID = 1).
const SnapshotLevel = 9

// MaxLevel is the highest level a replica may use.
const MaxLevel = SnapshotLevel

// FileInfo names one LTX file of a replica and what listing tells about it.
type FileInfo struct {
	Level   int
	MinTXID ltx.TXID
	MaxTXID ltx.TXID
	Size    int64
	// ModTime is the storage modification time: a hint only. The commit
	// time is the LTX header's timestamp.
	ModTime time.Time
}

// Name is the file's base name, <minTXID>-<maxTXID>.ltx.
func (f FileInfo) Name() string { return ltx.FormatFilename(f.MinTXID, f.MaxTXID) }

// String names the file with its level, for errors and logs.
func (f FileInfo) String() string { return fmt.Sprintf("L%d/%s", f.Level, f.Name()) }

// Backend stores the LTX files of one replica.
//
// Implementations must be safe for concurrent use.
type Backend interface {
	// List returns the files of level whose MinTXID >= from, ordered by
	// (MinTXID, MaxTXID). Names that are not LTX file names are ignored.
	List(ctx context.Context, level int, from ltx.TXID) ([]FileInfo, error)

	// ReadRange opens length bytes of f starting at off; length < 0 reads
	// to the end of the file. A missing file gives an error matching
	// ErrNotFound.
	ReadRange(ctx context.Context, f FileInfo, off, length int64) (io.ReadCloser, error)

	// Write stores the file f from r without buffering it whole in memory.
	// The file appears atomically: readers never see a partial file.
	// timestamp is the LTX header's commit time, kept as metadata where the
	// backend supports it.
	Write(ctx context.Context, f FileInfo, timestamp time.Time, r io.Reader) error

	// Delete removes files; files already gone are not an error.
	Delete(ctx context.Context, files []FileInfo) error

	// Close releases what the backend holds (its share of the process's
	// HTTP connection pool, SDK clients). The backend must not be used
	// afterwards; closing twice is harmless.
	Close() error

	// String is the replica URL, without secrets.
	String() string
}

// AllLister is implemented by backends that can list every level in one
// request (or one paged listing) rather than one per level.
type AllLister interface {
	// ListAll returns the files of all levels, each level's in List order.
	ListAll(ctx context.Context) ([]FileInfo, error)
}

// ExclusiveWriter is implemented by backends that can create a file only
// if no file of that name exists, atomically: of two concurrent creators
// exactly one succeeds, the other gets an error matching ErrExists.
type ExclusiveWriter interface {
	WriteNew(ctx context.Context, f FileInfo, timestamp time.Time, r io.Reader) error
}

// ErrExists is matched (errors.Is) by errors from WriteNew for files that
// already exist.
var ErrExists = errors.New("already exists")

// ErrNotFound is matched (errors.Is) by errors for files (and metadata
// objects) that do not exist.
var ErrNotFound = errors.New("not found")

// ErrNoReplica is matched by errors from List and ListAll when the replica
// itself does not exist: its directory, bucket or container is missing,
// or a static replica has no manifest. It is distinct from an existing
// replica without files (List returns no files and no error), and it
// does not match ErrNotFound, which means "this file is gone" (a reader
// re-plans on it; re-planning cannot help a replica that is not there).
// A missing directory also matches fs.ErrNotExist: writing creates it,
// where a missing bucket stays missing.
var ErrNoReplica = errors.New("no replica there")

// ErrReadOnly is matched by errors from the write methods of backends that
// cannot write (a replica served by a static web server).
var ErrReadOnly = errors.New("read-only replica")

// ErrAuth is matched by errors caused by credentials: missing, wrong,
// expired, or refused access. Retrying does not help; the message says
// which variable or setting to check, never a secret.
var ErrAuth = errors.New("not authorized")

// ErrServerFault is matched by errors for answers that break the protocol:
// a 200 with the whole object to a Range request, a Content-Range other
// than the one asked for. They are transient (retried); after the retries
// they are reported as the server's fault, not as corrupt data.
var ErrServerFault = errors.New("server fault")

// ErrTransient marks errors worth retrying: timeouts, connection resets,
// 5xx answers, throttling, short bodies.
var ErrTransient = errors.New("transient storage error")

// Transient wraps err so that IsTransient reports true for it.
func Transient(err error) error {
	if err == nil || errors.Is(err, ErrTransient) {
		return err
	}
	return fmt.Errorf("%w: %w", ErrTransient, err)
}

// IsTransient reports whether err is worth retrying: marked transient, or
// a short read, unless an error in the chain says it is permanent (a
// Permanent() bool method returning true, as corrupt-data errors have).
func IsTransient(err error) bool {
	if errors.Is(err, ErrTransient) {
		return true
	}
	var p interface{ Permanent() bool }
	if errors.As(err, &p) && p.Permanent() {
		return false
	}
	return errors.Is(err, io.ErrUnexpectedEOF)
}

// FileKey identifies a file regardless of what listing said about it.
type FileKey struct {
	Level            int
	MinTXID, MaxTXID ltx.TXID
}

// Key is the file's identity, usable as a map key.
func (f FileInfo) Key() FileKey { return FileKey{f.Level, f.MinTXID, f.MaxTXID} }

// SortFiles orders files by (MinTXID, MaxTXID), the order List returns.
func SortFiles(files []FileInfo) {
	sort.Slice(files, func(i, j int) bool {
		if files[i].MinTXID != files[j].MinTXID {
			return files[i].MinTXID < files[j].MinTXID
		}
		return files[i].MaxTXID < files[j].MaxTXID
	})
}
