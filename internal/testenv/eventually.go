package testenv

import (
	"testing"
	"time"
)

// Eventually waits until cond holds, failing the test with what cond last
// reported if it does not within timeout; it returns how long it took.
// Tests await conditions this way instead of sleeping a fixed time.
func Eventually(t testing.TB, timeout time.Duration, cond func() (bool, string)) time.Duration {
	t.Helper()
	start := time.Now()
	for {
		ok, state := cond()
		if ok {
			return time.Since(start)
		}
		if time.Since(start) > timeout {
			t.Fatalf("not within %s: %s", timeout, state)
		}
		time.Sleep(10 * time.Millisecond)
	}
}
