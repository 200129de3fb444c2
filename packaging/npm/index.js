'use strict';
// strata-sqlite: the strata SQLite extension for Node, for clients that
// load SQLite extensions (better-sqlite3's db.loadExtension, sqlite3's
// db.loadExtension). See https://github.com/strata-db/strata.
const fs = require('fs');
const path = require('path');

// The extension built for this platform: lib/<platform>-<arch>/strata.so.
function extPath() {
  const p = path.join(__dirname, 'lib', `${process.platform}-${process.arch}`, 'strata.so');
  if (!fs.existsSync(p)) {
    const built = fs.readdirSync(path.join(__dirname, 'lib')).join(', ');
    throw new Error(`strata-sqlite has no extension for ${process.platform}-${process.arch} (built for: ${built})`);
  }
  return p;
}

// load loads the extension through db (a better-sqlite3 Database, or any
// object with loadExtension(path)) and returns db. The extension
// registers the strata VFS for the whole process: one load is enough.
function load(db) {
  db.loadExtension(extPath());
  return db;
}

module.exports = { load, path: extPath };
