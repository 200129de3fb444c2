"""Build the strata-sqlite wheel from a built strata.so, with the standard
library only (no pip, setuptools or network): a wheel is a zip holding the
package, a METADATA, a WHEEL and a RECORD of every file's SHA-256.

    python3 build_wheel.py --so bin/strata.so --version 0.1.0 \
        --plat linux_x86_64 --license LICENSE --out dist
"""

import argparse
import base64
import hashlib
import os
import sys
import zipfile

NAME = "strata-sqlite"
DIST = "strata_sqlite"  # the distribution name as wheel file names spell it

METADATA = """Metadata-Version: 2.1
Name: {name}
Version: {version}
Summary: The strata SQLite extension: SQLite databases in object storage, queried in place
Home-page: https://github.com/strata-db/strata
License: Apache-2.0
Requires-Python: >=3.8
Classifier: License :: OSI Approved :: Apache Software License
Classifier: Operating System :: POSIX :: Linux
Classifier: Topic :: Database

strata.load(conn) loads the strata SQLite extension (a SQLite VFS that reads
databases stored as LTX files in S3 or a directory, in place) through a
sqlite3 connection; strata.path() is the extension's file.
"""

WHEEL = """Wheel-Version: 1.0
Generator: strata build_wheel.py
Root-Is-Purelib: false
Tag: py3-none-{plat}
"""

# Every entry gets the same timestamp, so that the same inputs give the
# same wheel, byte for byte.
STAMP = (1980, 1, 1, 0, 0, 0)


def digest(data):
    h = base64.urlsafe_b64encode(hashlib.sha256(data).digest()).rstrip(b"=")
    return "sha256=" + h.decode()


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--so", required=True, help="the built strata.so")
    ap.add_argument("--version", required=True)
    ap.add_argument("--plat", required=True, help="platform tag: linux_x86_64 or linux_aarch64")
    ap.add_argument("--license", required=True)
    ap.add_argument("--out", required=True, help="directory to write the wheel into")
    args = ap.parse_args()

    here = os.path.dirname(os.path.abspath(__file__))
    with open(os.path.join(here, "strata", "__init__.py")) as f:
        init = f.read().replace("@VERSION@", args.version)
    with open(args.so, "rb") as f:
        so = f.read()
    with open(args.license, "rb") as f:
        license_text = f.read()

    info = "{}-{}.dist-info".format(DIST, args.version)
    files = [
        ("strata/__init__.py", init.encode(), 0o644),
        ("strata/strata.so", so, 0o755),
        (info + "/LICENSE", license_text, 0o644),
        (info + "/METADATA", METADATA.format(name=NAME, version=args.version).encode(), 0o644),
        (info + "/WHEEL", WHEEL.format(plat=args.plat).encode(), 0o644),
    ]
    record = "".join("{},{},{}\n".format(n, digest(d), len(d)) for n, d, _ in files)
    record += info + "/RECORD,,\n"
    files.append((info + "/RECORD", record.encode(), 0o644))

    os.makedirs(args.out, exist_ok=True)
    wheel = os.path.join(args.out, "{}-{}-py3-none-{}.whl".format(DIST, args.version, args.plat))
    with zipfile.ZipFile(wheel, "w", zipfile.ZIP_DEFLATED) as z:
        for name, data, mode in files:
            zi = zipfile.ZipInfo(name, STAMP)
            zi.external_attr = (0o100000 | mode) << 16
            zi.compress_type = zipfile.ZIP_DEFLATED
            z.writestr(zi, data)
    print(wheel)


if __name__ == "__main__":
    sys.exit(main())
