package testenv

import (
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
)

// LitestreamVersion is the Litestream the compatibility tests run.
const LitestreamVersion = "v0.5.18"

const litestreamHint = "install it with `go install github.com/benbjohnson/litestream/cmd/litestream@" + LitestreamVersion + "` (make test-deps does)"

// Litestream returns the path of the litestream binary (on PATH or in
// $(go env GOPATH)/bin), failing the test with an install hint when it is
// missing or is not version LitestreamVersion.
func Litestream(t testing.TB) string {
	t.Helper()
	bin, err := exec.LookPath("litestream")
	if err != nil {
		for _, dir := range goBinDirs() {
			p := filepath.Join(dir, "litestream")
			if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
				bin = p
				break
			}
		}
	}
	if bin == "" {
		t.Fatalf("litestream not found in PATH or $(go env GOPATH)/bin: %s", litestreamHint)
	}
	out, err := exec.Command(bin, "version").Output()
	if got := strings.TrimSpace(string(out)); err != nil || got != LitestreamVersion {
		t.Fatalf("%s version: %q (%v), want %s: %s", bin, got, err, LitestreamVersion, litestreamHint)
	}
	return bin
}
