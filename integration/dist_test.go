//go:build dist

// The release artifacts of `make dist`, tested as a user gets them: run
// by `make test-dist` (which `make test` runs), after `make dist`, with
// STRATA_DIST naming the dist/ directory.

package integration

import (
	"archive/tar"
	"archive/zip"
	"bufio"
	"compress/gzip"
	"crypto/sha256"
	"debug/elf"
	"encoding/base64"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"sort"
	"strings"
	"testing"

	"github.com/strata-db/strata/internal/fixture"
)

// distDir is the dist/ directory under test.
func distDir(t *testing.T) string {
	t.Helper()
	dir := os.Getenv("STRATA_DIST")
	if dir == "" {
		t.Fatal("STRATA_DIST is not set: run `make test-dist`, which builds dist/ and sets it")
	}
	return dir
}

// distFiles lists the artifacts matching pattern, failing unless there
// are want of them.
func distFiles(t *testing.T, pattern string, want int) []string {
	t.Helper()
	got, err := filepath.Glob(filepath.Join(distDir(t), pattern))
	if err != nil {
		t.Fatal(err)
	}
	if len(got) != want {
		t.Fatalf("dist/%s: %d files %v, want %d", pattern, len(got), got, want)
	}
	sort.Strings(got)
	return got
}

// Every artifact is listed in SHA256SUMS with its true checksum, and
// nothing else is.
func TestDistChecksums(t *testing.T) {
	dir := distDir(t)
	f, err := os.Open(filepath.Join(dir, "SHA256SUMS"))
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	listed := map[string]bool{}
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		sum, name, ok := strings.Cut(sc.Text(), "  ")
		if !ok {
			t.Fatalf("SHA256SUMS: bad line %q", sc.Text())
		}
		b, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if h := sha256.Sum256(b); hex.EncodeToString(h[:]) != sum {
			t.Errorf("%s: SHA-256 %x, SHA256SUMS says %s", name, h, sum)
		}
		listed[name] = true
	}
	entries, err := os.ReadDir(dir)
	if err != nil {
		t.Fatal(err)
	}
	for _, e := range entries {
		if e.Name() != "SHA256SUMS" && !listed[e.Name()] {
			t.Errorf("%s is not in SHA256SUMS", e.Name())
		}
	}
	if len(listed) != 5 {
		t.Errorf("SHA256SUMS lists %d files, want 5 (2 archives, 2 wheels, 1 npm package)", len(listed))
	}
}

// Each archive holds the command, the extension, the license and the
// README, built for its architecture; the amd64 command reads the shop
// fixture.
func TestDistArchives(t *testing.T) {
	archives := distFiles(t, "strata-*-linux-*.tar.gz", 2)
	shop := fixture.Load(t, fixture.Shop)
	for _, archive := range archives {
		arch := strings.TrimSuffix(archive[strings.LastIndex(archive, "-")+1:], ".tar.gz")
		t.Run(arch, func(t *testing.T) {
			dir := t.TempDir()
			names := distUntar(t, archive, dir)
			top := strings.TrimSuffix(filepath.Base(archive), ".tar.gz")
			want := []string{top + "/LICENSE", top + "/README.md", top + "/strata", top + "/strata.so"}
			if strings.Join(names, " ") != strings.Join(want, " ") {
				t.Fatalf("%s holds %v, want %v", archive, names, want)
			}
			machine := map[string]elf.Machine{"amd64": elf.EM_X86_64, "arm64": elf.EM_AARCH64}[arch]
			distCheckELF(t, filepath.Join(dir, top, "strata"), machine, elf.ET_EXEC)
			distCheckELF(t, filepath.Join(dir, top, "strata.so"), machine, elf.ET_DYN)
			if arch != runtime.GOARCH {
				return // built for another machine: checked, not run
			}
			out := distRun(t, dir, nil, filepath.Join(dir, top, "strata"), "query", shop.Replica(), shop.Truth.Check)
			if want := fmt.Sprintf("%d|%d\n", shop.Last().Count, shop.Last().Sum); out != want {
				t.Errorf("the archive's strata query printed %q, want %q", out, want)
			}
		})
	}
}

// distUntar extracts a .tar.gz into dir and returns the regular files'
// names, sorted.
func distUntar(t *testing.T, archive, dir string) []string {
	t.Helper()
	f, err := os.Open(archive)
	if err != nil {
		t.Fatal(err)
	}
	defer f.Close()
	gz, err := gzip.NewReader(f)
	if err != nil {
		t.Fatal(err)
	}
	tr := tar.NewReader(gz)
	var names []string
	for {
		h, err := tr.Next()
		if err == io.EOF {
			break
		} else if err != nil {
			t.Fatal(err)
		}
		if h.Typeflag != tar.TypeReg {
			continue
		}
		if strings.Contains(h.Name, "..") || filepath.IsAbs(h.Name) {
			t.Fatalf("%s: unsafe name %q", archive, h.Name)
		}
		names = append(names, h.Name)
		p := filepath.Join(dir, h.Name)
		if err := os.MkdirAll(filepath.Dir(p), 0o755); err != nil {
			t.Fatal(err)
		}
		out, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY, os.FileMode(h.Mode)&0o777)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(out, tr); err != nil {
			t.Fatal(err)
		}
		out.Close()
	}
	sort.Strings(names)
	return names
}

// distCheckELF fails unless path is an ELF file of the machine and type.
func distCheckELF(t *testing.T, path string, machine elf.Machine, typ elf.Type) {
	t.Helper()
	f, err := elf.Open(path)
	if err != nil {
		t.Fatalf("%s: %v", path, err)
	}
	defer f.Close()
	if f.Machine != machine || f.Type != typ {
		t.Errorf("%s: %s %s, want %s %s", filepath.Base(path), f.Machine, f.Type, machine, typ)
	}
}

// distRun runs a program of the artifacts with a clean environment (plus
// env) in dir, failing the test unless it succeeds; it returns stdout.
func distRun(t *testing.T, dir string, env []string, prog string, args ...string) string {
	t.Helper()
	cmd := exec.Command(prog, args...)
	cmd.Dir = dir
	cmd.Env = append(cliEnv(t), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	out, err := cmd.Output()
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", prog, strings.Join(args, " "), err, stderr.String())
	}
	return string(out)
}

// distPythonArch and distNodeArch are this machine's names in wheel tags
// and in the npm package's lib/ directory.
var (
	distPythonArch = map[string]string{"amd64": "x86_64", "arm64": "aarch64"}[runtime.GOARCH]
	distNodeArch   = map[string]string{"amd64": "x64", "arm64": "arm64"}[runtime.GOARCH]
)

// Each wheel is a valid wheel (RECORD lists every file with its true hash)
// holding the extension for its platform; the wheel of this machine,
// installed with pip into a fresh virtualenv of /usr/bin/python3, loads
// the extension with strata.load and reads the shop fixture.
func TestDistPythonWheel(t *testing.T) {
	wheels := distFiles(t, "strata_sqlite-*-py3-none-linux_*.whl", 2)
	var mine string
	for _, w := range wheels {
		plat := strings.TrimSuffix(w[strings.LastIndex(w, "linux_")+len("linux_"):], ".whl")
		machine := map[string]elf.Machine{"x86_64": elf.EM_X86_64, "aarch64": elf.EM_AARCH64}[plat]
		distCheckWheel(t, w, machine)
		if plat == distPythonArch {
			mine = w
		}
	}
	if mine == "" {
		t.Fatalf("no wheel for linux_%s in %v", distPythonArch, wheels)
	}

	shop := fixture.Load(t, fixture.Shop)
	work := t.TempDir()
	venv := filepath.Join(work, "venv")
	distRun(t, work, nil, "/usr/bin/python3", "-m", "venv", venv)
	py := filepath.Join(venv, "bin", "python")
	distRun(t, work, []string{"PIP_DISABLE_PIP_VERSION_CHECK=1"}, py, "-m", "pip", "install", "--quiet", "--no-index", "--no-cache-dir", mine)
	script := fmt.Sprintf(`
import sqlite3, strata
print(strata.path())
strata.load(sqlite3.connect(":memory:"))
db = sqlite3.connect("file:shop.db?vfs=strata&replica=%s&mode=ro", uri=True)
print("%%d|%%d" %% db.execute(%q).fetchone())
print(db.execute("select strata_txid()").fetchone()[0])
`, shop.Replica(), shop.Truth.Check)
	out := strings.Split(strings.TrimSpace(distRun(t, work, nil, py, "-c", script)), "\n")
	want := []string{"", fmt.Sprintf("%d|%d", shop.Last().Count, shop.Last().Sum), shop.Last().TXID.String()}
	if len(out) != 3 || !strings.HasPrefix(out[0], venv+"/") || !strings.HasSuffix(out[0], "/site-packages/strata/strata.so") ||
		out[1] != want[1] || out[2] != want[2] {
		t.Fatalf("python in the virtualenv printed %q; want strata.path() inside %s, then %q", out, venv, want[1:])
	}
}

// distCheckWheel checks a wheel's RECORD against its contents and the
// architecture of the extension in it.
func distCheckWheel(t *testing.T, path string, machine elf.Machine) {
	t.Helper()
	z, err := zip.OpenReader(path)
	if err != nil {
		t.Fatal(err)
	}
	defer z.Close()
	contents := map[string][]byte{}
	var record string
	for _, f := range z.File {
		rc, err := f.Open()
		if err != nil {
			t.Fatal(err)
		}
		b, err := io.ReadAll(rc)
		rc.Close()
		if err != nil {
			t.Fatal(err)
		}
		contents[f.Name] = b
		if strings.HasSuffix(f.Name, ".dist-info/RECORD") {
			record = f.Name
		}
	}
	if record == "" {
		t.Fatalf("%s has no RECORD", path)
	}
	listed := map[string]bool{}
	for _, line := range strings.Split(strings.TrimSpace(string(contents[record])), "\n") {
		parts := strings.Split(line, ",")
		if len(parts) != 3 {
			t.Fatalf("%s: bad RECORD line %q", path, line)
		}
		listed[parts[0]] = true
		if parts[0] == record {
			continue
		}
		h := sha256.Sum256(contents[parts[0]])
		if want := "sha256=" + base64.RawURLEncoding.EncodeToString(h[:]); parts[1] != want || parts[2] != fmt.Sprint(len(contents[parts[0]])) {
			t.Errorf("%s: RECORD says %s %s for %s, the file has %s %d", path, parts[1], parts[2], parts[0], want, len(contents[parts[0]]))
		}
	}
	for name := range contents {
		if !listed[name] {
			t.Errorf("%s: %s is not in RECORD", path, name)
		}
	}
	so := filepath.Join(t.TempDir(), "strata.so")
	if err := os.WriteFile(so, contents["strata/strata.so"], 0o644); err != nil {
		t.Fatal(err)
	}
	distCheckELF(t, so, machine, elf.ET_DYN)
}

// The npm package holds the extension for linux x64 and arm64; installed
// from its tarball into an empty directory, require('strata-sqlite')
// loads it into better-sqlite3 and reads the shop fixture.
func TestDistNpmPackage(t *testing.T) {
	pkg := distFiles(t, "strata-sqlite-*.tgz", 1)[0]
	dir := t.TempDir()
	names := distUntar(t, pkg, dir)
	want := []string{"package/LICENSE", "package/README.md", "package/index.js",
		"package/lib/linux-arm64/strata.so", "package/lib/linux-x64/strata.so", "package/package.json"}
	if strings.Join(names, " ") != strings.Join(want, " ") {
		t.Fatalf("%s holds %v, want %v", pkg, names, want)
	}
	distCheckELF(t, filepath.Join(dir, "package/lib/linux-x64/strata.so"), elf.EM_X86_64, elf.ET_DYN)
	distCheckELF(t, filepath.Join(dir, "package/lib/linux-arm64/strata.so"), elf.EM_AARCH64, elf.ET_DYN)

	node, mods := extNode(t)
	npm, err := exec.LookPath("npm")
	if err != nil {
		t.Fatal("npm is needed to install the package (Debian package npm)")
	}
	app := t.TempDir()
	if err := os.WriteFile(filepath.Join(app, "package.json"), []byte(`{"name": "app", "private": true}`), 0o644); err != nil {
		t.Fatal(err)
	}
	distRun(t, app, nil, npm, "install", "--offline", "--no-audit", "--no-fund", "--silent", pkg)
	shop := fixture.Load(t, fixture.Shop)
	script := fmt.Sprintf(`
const Database = require('better-sqlite3');
const strata = require('strata-sqlite');
console.log(strata.path());
strata.load(new Database(':memory:'));
const db = new Database('shop.db', { readonly: true });
console.log(db.prepare(%q).raw().get().join('|'));
console.log(db.prepare('select strata_txid()').pluck().get());
`, shop.Truth.Check)
	if err := os.WriteFile(filepath.Join(app, "app.js"), []byte(script), 0o644); err != nil {
		t.Fatal(err)
	}
	out := strings.Split(strings.TrimSpace(distRun(t, app, []string{"NODE_PATH=" + mods,
		"STRATA_DEFAULT_VFS=1", "STRATA_REPLICA_URL=" + shop.Replica()}, node, "app.js")), "\n")
	wantPath := filepath.Join(app, "node_modules", "strata-sqlite", "lib", "linux-"+distNodeArch, "strata.so")
	if len(out) != 3 || out[0] != wantPath || out[1] != fmt.Sprintf("%d|%d", shop.Last().Count, shop.Last().Sum) || out[2] != shop.Last().TXID.String() {
		t.Fatalf("node printed %q; want %s, %d|%d, %s", out, wantPath, shop.Last().Count, shop.Last().Sum, shop.Last().TXID)
	}
}
