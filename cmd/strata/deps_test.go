package main

import (
	"os/exec"
	"strings"
	"testing"
)

// The shipped command contains only the product: no test harness (the
// testing package, internal/testenv, which expects versitygw), no
// benchmark (cmd/strata-bench has it).
func TestLinksNoHarness(t *testing.T) {
	out, err := exec.Command("go", "list", "-deps", ".").Output()
	if err != nil {
		t.Fatalf("go list -deps: %v", err)
	}
	for _, pkg := range strings.Fields(string(out)) {
		if pkg == "testing" || strings.HasPrefix(pkg, "testing/") ||
			strings.HasPrefix(pkg, "github.com/strata-db/strata/bench") ||
			strings.HasPrefix(pkg, "github.com/strata-db/strata/internal/testenv") ||
			strings.HasPrefix(pkg, "github.com/strata-db/strata/internal/ltxtest") ||
			strings.HasPrefix(pkg, "github.com/strata-db/strata/internal/fixture") {
			t.Errorf("cmd/strata links %s", pkg)
		}
	}
}
