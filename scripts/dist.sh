#!/usr/bin/env bash
# Builds strata's release artifacts into dist/ (run by `make dist`, which
# installs the arm64 cross compiler first):
#
#   strata-VERSION-linux-{amd64,arm64}.tar.gz    the command and the SQLite extension
#   strata_sqlite-VERSION-py3-none-linux_{x86_64,aarch64}.whl
#                                                 Python package: strata.load(conn), strata.path()
#   strata-sqlite-VERSION.tgz                     npm package (both architectures):
#                                                 require('strata-sqlite').load(db), .path()
#   SHA256SUMS                                    checksums of all of the above
#
# Everything is built from this checkout with cgo; arm64 with Debian's
# aarch64-linux-gnu-gcc. Archives are reproducible: sorted names, fixed
# times and owners.
set -euo pipefail

version=${VERSION:?set VERSION, e.g. VERSION=0.1.0}
go=${GO:-go}
root=$(cd "$(dirname "$0")/.." && pwd)
out=$root/dist
work=$root/.cache/dist
cd "$root"

rm -rf "$out" "$work"
mkdir -p "$out" "$work/include"
# A cross compiler does not search /usr/include (its headers are the
# build machine's); the VFS's C code needs only SQLite's two headers,
# which are the same on every architecture.
cp /usr/include/sqlite3.h /usr/include/sqlite3ext.h "$work/include/"

# build GOARCH CC: the command and the extension for linux/GOARCH, packed
# as a .tar.gz.
build() {
	local arch=$1 cc=$2 name="strata-$version-linux-$1"
	local dir="$work/$name"
	mkdir -p "$dir"
	echo "==> $name (CC=$cc)"
	local env=(CGO_ENABLED=1 GOOS=linux GOARCH="$arch" CC="$cc" CGO_CFLAGS="-O2 -g -I$work/include")
	env "${env[@]}" "$go" build -trimpath -ldflags='-s -w' -o "$dir/strata" ./cmd/strata
	env "${env[@]}" "$go" build -trimpath -ldflags='-s -w' -buildmode=c-shared \
		-tags SQLITE3VFS_LOADABLE_EXT -o "$dir/strata.so" ./extension
	rm -f "$dir/strata.h" # c-shared writes a C header nobody needs
	cp LICENSE README.md "$dir/"
	tar --sort=name --mtime=@0 --owner=0 --group=0 --numeric-owner \
		-C "$work" -czf "$out/$name.tar.gz" "$name"
}
build amd64 gcc
build arm64 aarch64-linux-gnu-gcc

echo "==> Python wheels"
for pair in amd64:x86_64 arm64:aarch64; do
	/usr/bin/python3 packaging/python/build_wheel.py --version "$version" \
		--so "$work/strata-$version-linux-${pair%%:*}/strata.so" --plat "linux_${pair##*:}" \
		--license LICENSE --out "$out"
done

echo "==> npm package"
npm="$work/npm"
mkdir -p "$npm/lib/linux-x64" "$npm/lib/linux-arm64"
cp packaging/npm/index.js packaging/npm/README.md LICENSE "$npm/"
sed "s/@VERSION@/$version/" packaging/npm/package.json >"$npm/package.json"
cp "$work/strata-$version-linux-amd64/strata.so" "$npm/lib/linux-x64/"
cp "$work/strata-$version-linux-arm64/strata.so" "$npm/lib/linux-arm64/"
(cd "$npm" && npm pack --silent --pack-destination "$out" >/dev/null)

(cd "$out" && sha256sum -- *.tar.gz *.whl *.tgz >SHA256SUMS)
echo "==> dist/"
(cd "$out" && ls -l -- *.tar.gz *.whl *.tgz SHA256SUMS)
