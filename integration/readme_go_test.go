package integration

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/strata-db/strata/internal/fixture"
)

// The Go program in README.md ("The Go library") compiles as written and
// prints what it says about the fixture replica.
func TestReadmeGoExample(t *testing.T) {
	root, err := fixture.ModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	readme, err := os.ReadFile(filepath.Join(root, "README.md"))
	if err != nil {
		t.Fatal(err)
	}
	const marker = "<!-- go-example -->\n```go\n"
	_, rest, ok := strings.Cut(string(readme), marker)
	if !ok {
		t.Fatalf("README.md has no %q block", marker)
	}
	src, _, ok := strings.Cut(rest, "\n```")
	if !ok {
		t.Fatal("the README's Go example does not end")
	}
	dir := t.TempDir()
	main := filepath.Join(dir, "main.go")
	if err := os.WriteFile(main, []byte(src+"\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	// Run from the module root: the program builds against this checkout.
	cmd := exec.CommandContext(ctx, "go", "run", main, fixture.ReplicaDir(t))
	cmd.Dir = root
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("go run the README's Go example: %v\n%s", err, out)
	}
	states := fixture.Truth(t)
	want := fmt.Sprintf("%d orders at TXID %s\n", states[len(states)-1].Count, states[len(states)-1].TXID)
	if string(out) != want {
		t.Errorf("the README's Go example printed %q, want %q", out, want)
	}
}
