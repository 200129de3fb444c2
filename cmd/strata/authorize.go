package main

import "C"

import (
	"errors"
	"strings"
	"unsafe"
)

// SQLite authorizer action codes and answers (sqlite3.h), and the result
// code of a statement the authorizer refused.
const (
	authOK     = 0
	authDeny   = 1
	authAttach = 24
	sqliteAuth = 23
)

// errWritesRefused explains a statement the authorizer refused.
var errWritesRefused = errors.New("refused: strata query, shell and exec write no local file; " +
	"ATTACH takes only other strata replicas ('file:NAME?vfs=strata&replica=URL') and ':memory:', and VACUUM INTO is not allowed")

// query and shell are read-only, and exec writes only its replica: none
// may write anywhere else, but SQLite can create and write local files
// from SQL alone (ATTACH
// 'file:x?vfs=unix', and VACUUM INTO, which attaches its target). The
// authorizer allows only attachments that cannot write: another strata
// replica (vfs=strata without write=1) and an in-memory database.
//
//export strataAuthorize
func strataAuthorize(_ unsafe.Pointer, action C.int, arg1, arg2, dbName, trigger *C.char) C.int {
	_, _, _ = arg2, dbName, trigger
	if action != authAttach {
		return authOK
	}
	if arg1 == nil { // the file name is an expression, not a literal
		return authDeny
	}
	if attachAllowed(C.GoString(arg1)) {
		return authOK
	}
	return authDeny
}

// attachAllowed reports whether ATTACH of name writes nothing that
// outlives the connection: ":memory:", "" (a private temporary database,
// which a plain VACUUM attaches to rebuild the database in), or a URI
// filename whose every vfs parameter is strata.
func attachAllowed(name string) bool {
	if name == ":memory:" || name == "" {
		return true
	}
	params, ok := sqliteURIParams(name)
	if !ok {
		return false
	}
	vfsSeen := false
	for _, kv := range params {
		if kv[0] == "write" && !falsey(kv[1]) { // the VFS's write path
			return false
		}
		if kv[0] == "vfs" {
			if kv[1] != "strata" {
				return false
			}
			vfsSeen = true
		}
	}
	return vfsSeen
}

// falsey reports whether a URI parameter value means false to SQLite
// (sqlite3_uri_boolean).
func falsey(v string) bool {
	switch strings.ToLower(v) {
	case "0", "false", "no", "off":
		return true
	}
	return false
}

// sqliteURIParams decodes the parameters of a SQLite URI filename the way SQLite
// does (sqlite3ParseUri): the query ends at '#', parameters are separated
// by '&', %HH is decoded in names and values, '+' is not. ok is false for
// what is not a URI filename or cannot be decoded without doubt.
func sqliteURIParams(name string) (params [][2]string, ok bool) {
	if !strings.HasPrefix(name, "file:") {
		return nil, false
	}
	name, _, _ = strings.Cut(name, "#")
	_, query, found := strings.Cut(name, "?")
	if !found {
		return nil, true
	}
	for part := range strings.SplitSeq(query, "&") {
		k, v, _ := strings.Cut(part, "=")
		dk, ok1 := uriUnescape(k)
		dv, ok2 := uriUnescape(v)
		if !ok1 || !ok2 {
			return nil, false
		}
		params = append(params, [2]string{dk, dv})
	}
	return params, true
}

// uriUnescape decodes %HH. A '%' not followed by two hex digits, or an
// escaped NUL (where SQLite cuts the parameter short), makes it fail.
func uriUnescape(s string) (string, bool) {
	if !strings.Contains(s, "%") {
		return s, true
	}
	var b strings.Builder
	for i := 0; i < len(s); i++ {
		if s[i] != '%' {
			b.WriteByte(s[i])
			continue
		}
		if i+2 >= len(s) {
			return "", false
		}
		h, l := unhex(s[i+1]), unhex(s[i+2])
		if h < 0 || l < 0 || h == 0 && l == 0 {
			return "", false
		}
		b.WriteByte(byte(h<<4 | l))
		i += 2
	}
	return b.String(), true
}

func unhex(c byte) int {
	switch {
	case '0' <= c && c <= '9':
		return int(c - '0')
	case 'a' <= c && c <= 'f':
		return int(c-'a') + 10
	case 'A' <= c && c <= 'F':
		return int(c-'A') + 10
	}
	return -1
}
