package main

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"net/url"
	"os"
	"path/filepath"
	"regexp"
	"strings"
)

// errNoReplica matches the error of a local replica directory that does
// not exist (restore -if-replica-exists treats it as "nothing to restore").
var errNoReplica = errors.New("replica does not exist")

// noReplicaError is an errNoReplica with the whole story in its message.
type noReplicaError struct{ msg string }

func (e *noReplicaError) Error() string        { return e.msg }
func (e *noReplicaError) Is(target error) bool { return target == errNoReplica }

// replicaHint is what a replica URL looks like, for messages.
const replicaHint = "a replica URL is expected: a directory, file:///path/to/dir or s3://bucket/prefix"

// localReplicaPath returns the directory a replica URL names, and false
// for a URL of a remote scheme.
func localReplicaPath(arg string) (string, bool) {
	if !strings.Contains(arg, "://") {
		return arg, true
	}
	if u, err := url.Parse(arg); err == nil && u.Scheme == "file" {
		return filepath.FromSlash(u.Path), true
	}
	return "", false
}

// schemeTypo matches "s3:/bucket" and "s3:bucket": a scheme without its "//".
var schemeTypo = regexp.MustCompile(`^[a-zA-Z][a-zA-Z0-9+.-]*:[^/\\]|^[a-zA-Z][a-zA-Z0-9+.-]*:/[^/]`)

// checkReplicaArg catches the mistakes that would otherwise look like an
// empty replica: a path to a SQLite database (as Litestream's commands
// take one) or to any other file, a directory that does not exist (a
// typo), a URL whose scheme lost a slash. mustExist is false for import,
// which creates the directory.
func checkReplicaArg(arg string, mustExist bool) error {
	path, local := localReplicaPath(arg)
	if !local || path == "" {
		return nil
	}
	st, err := os.Stat(path)
	switch {
	case err == nil && st.IsDir():
		return nil
	case err == nil:
		msg := fmt.Sprintf("%s is a file, not a replica: %s", arg, replicaHint)
		if isSQLiteFile(path) {
			msg += fmt.Sprintf(" (%s is a SQLite database: 'strata import %s URL' uploads it to a replica)", arg, arg)
		}
		return fmt.Errorf("%w: %s", errUsage, msg)
	case errors.Is(err, fs.ErrNotExist):
		if !mustExist {
			return nil
		}
		if schemeTypo.MatchString(arg) && !strings.HasPrefix(arg, "./") {
			return &noReplicaError{fmt.Sprintf("replica %q: no such directory; if it is a URL, write the scheme with two slashes (e.g. s3://bucket/prefix)", arg)}
		}
		return &noReplicaError{fmt.Sprintf("replica directory %s does not exist (%s)", path, replicaHint)}
	default:
		return fmt.Errorf("replica %s: %w", arg, err)
	}
}

// isSQLiteFile reports whether path starts with SQLite's file header.
func isSQLiteFile(path string) bool {
	f, err := os.Open(path)
	if err != nil {
		return false
	}
	defer f.Close()
	head := make([]byte, 16)
	n, _ := f.Read(head)
	return bytes.Equal(head[:n], []byte("SQLite format 3\x00"))
}

// redactURL hides passwords in a replica URL before it is logged or
// printed: in its own user info and in URL-valued parameters
// (endpoint=http://user:pass@host).
func redactURL(raw string) string {
	if !strings.Contains(raw, "://") {
		return raw
	}
	u, err := url.Parse(raw)
	if err != nil {
		scheme, _, _ := strings.Cut(raw, "://")
		return scheme + "://(unparsable URL)"
	}
	q := u.Query()
	changed := false
	for _, vs := range q {
		for i, v := range vs {
			if pu, err := url.Parse(v); err == nil && pu.User != nil {
				if _, has := pu.User.Password(); has {
					vs[i] = pu.Redacted()
					changed = true
				}
			}
		}
	}
	if changed {
		u.RawQuery = q.Encode()
	}
	return u.Redacted()
}
