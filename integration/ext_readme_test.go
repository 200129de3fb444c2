package integration

import (
	"bufio"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
)

// The README's extension examples are marked
//
//	<!-- ext-test: NAME -->    before the code block to run
//	<!-- ext-output: NAME -->  before the block holding what it prints
//
// and TestExtReadmeExamples runs each of them as written, with two
// substitutions: ./bin/strata.so becomes the extension built for the test,
// and the fixture path becomes the fixture's actual location.
const (
	extReadmeSO      = "./bin/strata.so"
	extReadmeFixture = "../shared/fixtures/litestream-0.5-shop/replica"
)

type extExample struct {
	name, lang, code, output string
	hasOutput                bool
}

// extReadme finds the marked examples: in the top README once the lead
// has merged the extension's section into it, else in extension/README.md.
func extReadme(t *testing.T) (string, []*extExample) {
	t.Helper()
	root, err := extModuleRoot()
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range []string{filepath.Join(root, "README.md"), filepath.Join(root, "extension", "README.md")} {
		b, err := os.ReadFile(p)
		if err != nil || !strings.Contains(string(b), "<!-- ext-test:") {
			continue
		}
		return p, parseExtExamples(t, p, string(b))
	}
	t.Fatal("no README holds the extension's examples (<!-- ext-test: NAME --> markers)")
	return "", nil
}

func parseExtExamples(t *testing.T, path, text string) []*extExample {
	byName := map[string]*extExample{}
	var order []*extExample
	var pending *extExample // the example whose next fenced block is awaited
	var pendingOutput bool
	var inBlock bool
	var lang string
	var block strings.Builder
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := sc.Text()
		trimmed := strings.TrimSpace(line)
		if inBlock {
			if trimmed == "```" {
				inBlock = false
				if pending != nil {
					if pendingOutput {
						pending.output, pending.hasOutput = block.String(), true
					} else {
						pending.lang, pending.code = lang, block.String()
					}
					pending = nil
				}
				continue
			}
			block.WriteString(line + "\n")
			continue
		}
		if strings.HasPrefix(trimmed, "```") {
			inBlock, lang = true, strings.TrimPrefix(trimmed, "```")
			block.Reset()
			continue
		}
		for _, kind := range []string{"ext-test", "ext-output"} {
			prefix := "<!-- " + kind + ":"
			if !strings.HasPrefix(trimmed, prefix) {
				continue
			}
			name := strings.TrimSpace(strings.TrimSuffix(strings.TrimPrefix(trimmed, prefix), "-->"))
			ex := byName[name]
			if ex == nil {
				ex = &extExample{name: name}
				byName[name] = ex
				order = append(order, ex)
			}
			pending, pendingOutput = ex, kind == "ext-output"
		}
	}
	for _, ex := range order {
		if ex.code == "" || !ex.hasOutput {
			t.Fatalf("%s: example %q needs both an ext-test and an ext-output block", path, ex.name)
		}
	}
	return order
}

func TestExtReadmeExamples(t *testing.T) {
	path, examples := extReadme(t)
	so := extensionPath(t)
	replica := fixture.ReplicaDir(t)
	seen := map[string]bool{}
	for _, ex := range examples {
		seen[ex.lang] = true
		t.Run(ex.name, func(t *testing.T) {
			code := strings.ReplaceAll(ex.code, extReadmeSO, so)
			code = strings.ReplaceAll(code, extReadmeFixture, replica)
			dir := t.TempDir()
			env := extEnv()
			var r extResult
			switch ex.lang {
			case "sh":
				extRequire(t, extSQLite3, "Debian package sqlite3")
				// The README's `sqlite3` is the system shell.
				env = append(env, "PATH=/usr/bin:/bin:"+os.Getenv("PATH"))
				r = extRun(t, dir, env, "", "/bin/sh", "-c", code)
			case "python":
				extRequire(t, extPython3, "Debian package python3")
				r = extRun(t, dir, env, "", extPython3, "-c", code)
			case "js":
				mods := os.Getenv("STRATA_TEST_NODE_MODULES")
				if mods == "" {
					t.Skip("the Node example needs the npm package sqlite3: run `npm install sqlite3` somewhere and set STRATA_TEST_NODE_MODULES to its node_modules directory")
				}
				node, err := exec.LookPath("node")
				if err != nil {
					t.Fatal(err)
				}
				file := filepath.Join(dir, "example.js")
				if err := os.WriteFile(file, []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
				r = extRun(t, dir, append(env, "NODE_PATH="+mods), "", node, file)
			default:
				t.Fatalf("%s: example %q: no runner for language %q", path, ex.name, ex.lang)
			}
			want := strings.TrimSpace(ex.output)
			if strings.HasSuffix(ex.name, "-error") {
				// Failing examples show what the user sees on stderr.
				if r.err == nil || strings.TrimSpace(r.stderr) != want || r.stdout != "" {
					t.Fatalf("%s: example %q: want a failure printing\n%s\ngot %s", path, ex.name, want, r)
				}
				return
			}
			if r.err != nil || r.stderr != "" || strings.TrimSpace(r.stdout) != want {
				t.Fatalf("%s: example %q: want\n%s\ngot %s", path, ex.name, want, r)
			}
		})
	}
	for _, lang := range []string{"sh", "python", "js"} {
		if !seen[lang] {
			t.Errorf("%s has no %s example", path, lang)
		}
	}
}
