"""strata: SQLite databases in object storage, queried in place.

This package carries the strata SQLite extension (strata.so) for this
platform. Load it once per process, through any connection; from then on
every connection of the process can open a replica:

    import sqlite3, strata

    strata.load(sqlite3.connect(":memory:"))
    db = sqlite3.connect("file:shop.db?vfs=strata&replica=/path/to/replica&mode=ro", uri=True)

See https://github.com/strata-db/strata for the URI parameters, pragmas,
SQL functions and environment variables.
"""

import os

__version__ = "@VERSION@"

__all__ = ["load", "path"]


def path():
    """Return the path of the strata SQLite extension in this package."""
    return os.path.join(os.path.dirname(os.path.abspath(__file__)), "strata.so")


def load(conn):
    """Load the strata extension through the sqlite3 connection conn.

    The extension registers the strata VFS for the whole process, so one
    load per process is enough; loading again changes nothing. Extension
    loading is switched back off on conn afterwards.
    """
    if not hasattr(conn, "enable_load_extension"):
        raise RuntimeError(
            "this Python's sqlite3 module cannot load extensions (it was built "
            "without --enable-loadable-sqlite-extensions); use a Python that can, "
            "such as Debian's or Ubuntu's /usr/bin/python3"
        )
    conn.enable_load_extension(True)
    try:
        conn.load_extension(path())
    finally:
        conn.enable_load_extension(False)
