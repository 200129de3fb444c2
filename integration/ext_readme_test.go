package integration

import (
	"bufio"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
)

// The README's extension examples are marked
//
//	<!-- ext-test: NAME -->    before the code block to run
//	<!-- ext-output: NAME -->  before the block holding what it prints
//	<!-- ext-run: NAME -->     optionally, before a sh block: the command
//	                           that runs a js example saved as the .js file
//	                           it names (else the example runs as `node FILE`)
//
// and TestExtReadmeExamples runs each of them as written, with two
// substitutions: ./bin/strata.so becomes the extension built for the test,
// and the fixture path becomes the fixture's actual location.
const (
	extReadmeSO      = "./bin/strata.so"
	extReadmeFixture = "testdata/shop/replica"
)

type extExample struct {
	name, lang, code, output string
	hasOutput                bool
	run                      string // the ext-run command, if any
}

// extReadme finds the marked examples: in the top README once the lead
// has merged the extension's section into it, else in extension/README.md.
func extReadme(t *testing.T) (string, []*extExample) {
	t.Helper()
	root, err := fixture.ModuleRoot()
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
	var pendingKind string  // the marker that made it pending
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
					switch pendingKind {
					case "ext-output":
						pending.output, pending.hasOutput = block.String(), true
					case "ext-run":
						pending.run = block.String()
					default:
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
		for _, kind := range []string{"ext-test", "ext-output", "ext-run"} {
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
			pending, pendingKind = ex, kind
		}
	}
	for _, ex := range order {
		if ex.code == "" || !ex.hasOutput {
			t.Fatalf("%s: example %q needs both an ext-test and an ext-output block", path, ex.name)
		}
		if ex.run != "" && (ex.lang != "js" || extRunScript(ex.run) == "") {
			t.Fatalf("%s: example %q: an ext-run block is for js examples and must name the .js file to run", path, ex.name)
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
				node, mods := extNode(t)
				env = append(env, "NODE_PATH="+mods, "PATH="+filepath.Dir(node)+":"+os.Getenv("PATH"))
				script, run := "example.js", ""
				if ex.run != "" {
					run = strings.ReplaceAll(ex.run, extReadmeFixture, replica)
					script = extRunScript(run)
				}
				if err := os.WriteFile(filepath.Join(dir, script), []byte(code), 0o644); err != nil {
					t.Fatal(err)
				}
				if run != "" {
					r = extRun(t, dir, env, "", "/bin/sh", "-c", run)
				} else {
					r = extRun(t, dir, env, "", node, script)
				}
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

// extRunScript is the .js file an ext-run command runs, or "".
func extRunScript(run string) string {
	for _, w := range strings.Fields(run) {
		if strings.HasSuffix(w, ".js") && !strings.Contains(w, "/") {
			return w
		}
	}
	return ""
}

// extNode returns node and the node_modules directory that holds
// better-sqlite3 (STRATA_TEST_NODE_MODULES; `make test` installs
// better-sqlite3@12 into .cache/node/node_modules and sets it). When either
// is missing the Node example is skipped, except in CI (CI=true), where
// that fails the test.
func extNode(t *testing.T) (node, mods string) {
	t.Helper()
	missing := func(format string, args ...any) {
		t.Helper()
		msg := fmt.Sprintf(format, args...)
		if ci, _ := strconv.ParseBool(os.Getenv("CI")); ci {
			t.Fatalf("%s. Run `make test`: it installs better-sqlite3@12 into .cache/node/node_modules and sets STRATA_TEST_NODE_MODULES", msg)
		}
		t.Skipf("skipping the Node example: %s. `make test` sets it up (better-sqlite3@12 in .cache/node/node_modules, STRATA_TEST_NODE_MODULES); in CI (CI=true) this fails", msg)
	}
	node, err := exec.LookPath("node")
	if err != nil {
		missing("node (Node 20 or later) is not on PATH")
	}
	mods = os.Getenv("STRATA_TEST_NODE_MODULES")
	if mods == "" {
		missing("STRATA_TEST_NODE_MODULES is not set (it names a node_modules directory holding better-sqlite3@12)")
	}
	if !filepath.IsAbs(mods) {
		t.Fatalf("STRATA_TEST_NODE_MODULES=%q: want an absolute path", mods)
	}
	// Resolve better-sqlite3 as the example will (NODE_PATH, from a
	// directory with no node_modules above it that matters), and check
	// that it is the one in mods, not one found elsewhere.
	r := extRun(t, t.TempDir(), extEnv("NODE_PATH="+mods), "", node, "-e",
		`try {
			const p = require.resolve('better-sqlite3');
			process.stdout.write(p + '\n' + require('better-sqlite3/package.json').version);
		} catch (e) {
			console.error(e.message.split('\n')[0]);
			process.exit(1);
		}`)
	if r.err != nil {
		missing("better-sqlite3 cannot be resolved from STRATA_TEST_NODE_MODULES=%s: %s", mods, strings.TrimSpace(r.stderr))
	}
	resolved, version, _ := strings.Cut(r.stdout, "\n")
	if !extWithin(resolved, mods) {
		missing("better-sqlite3 resolves to %s, outside STRATA_TEST_NODE_MODULES=%s", resolved, mods)
	}
	t.Logf("node %s, better-sqlite3 %s from %s", node, version, mods)
	return node, mods
}

// extWithin reports whether path lies inside dir, symbolic links resolved.
func extWithin(path, dir string) bool {
	if p, err := filepath.EvalSymlinks(path); err == nil {
		path = p
	}
	if d, err := filepath.EvalSymlinks(dir); err == nil {
		dir = d
	}
	rel, err := filepath.Rel(dir, path)
	return err == nil && rel != ".." && !strings.HasPrefix(rel, "../")
}
