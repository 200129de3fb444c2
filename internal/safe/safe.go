// Package safe turns Go panics into errors where strata runs inside a host
// process it does not own (the SQLite extension in Python, the sqlite3
// shell, Node): a panic on any goroutine, not only under a SQLite
// callback, would kill the host. Every goroutine strata starts runs its
// body through Call, and every SQLite callback through the VFS's guard.
package safe

import (
	"fmt"
	"runtime/debug"
)

// PanicError is a recovered panic.
type PanicError struct {
	Op    string // what was running, e.g. "xRead" or "poll"
	Value any    // what panicked
	Stack []byte
}

func (e *PanicError) Error() string {
	return fmt.Sprintf("internal error in strata %s (recovered; please report it): %v", e.Op, e.Value)
}

// Recover, deferred, turns a panic into a *PanicError stored in *errp.
// It reports whether it recovered one.
func Recover(op string, errp *error) {
	if r := recover(); r != nil {
		*errp = &PanicError{Op: op, Value: r, Stack: debug.Stack()}
	}
}

// Call runs fn, returning a panic as a *PanicError.
func Call(op string, fn func() error) (err error) {
	defer Recover(op, &err)
	return fn()
}
