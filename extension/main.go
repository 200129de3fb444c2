//go:build SQLITE3VFS_LOADABLE_EXT

// Command extension is the strata SQLite loadable extension. Build it with
//
//	go build -buildmode=c-shared -tags SQLITE3VFS_LOADABLE_EXT -o bin/strata.so ./extension
//
// and load it into any SQLite (the sqlite3 shell, Python, Node): it
// registers the strata VFS for the process, plus the strata_* SQL
// functions on every connection. See README.md.
//
// The entry point, sqlite3_strata_init, and the SQL functions are in
// strata.c; this file is the Go side of loading.
package main

/*
#include <stdlib.h>
// In strata.c: a file with //export may only declare C functions here.
char *strata_environ(int i);
*/
import "C"

import (
	"context"
	"fmt"
	"os"
	"strings"
	"sync"
	"time"

	"github.com/strata-db/strata/storage/backends"
	"github.com/strata-db/strata/vfs"
)

func main() {}

// checkTimeout bounds the load-time check of STRATA_REPLICA_URL: a host
// application waits for it in load_extension().
const checkTimeout = 10 * time.Second

var (
	loadMu sync.Mutex
	loaded *vfs.VFS // the registered VFS, once a load succeeded
)

// strataExtLoad registers the strata VFS, configured from the STRATA_*
// environment variables. It returns NULL, or an error message that the C
// side hands to SQLite as the load error (and frees).
//
//export strataExtLoad
func strataExtLoad() *C.char {
	if err := load(); err != nil {
		return C.CString("strata: " + err.Error())
	}
	return nil
}

// strataLastOpenError is why the most recent failed open of a strata
// database in this process failed (SQLite itself only says "unable to open
// database file"), or NULL. The C side frees it.
//
//export strataLastOpenError
func strataLastOpenError() *C.char {
	loadMu.Lock()
	v := loaded
	loadMu.Unlock()
	if v == nil {
		return nil
	}
	if err := v.LastOpenError(); err != nil {
		return C.CString(err.Error())
	}
	return nil
}

// load runs once successfully per process: loading the extension again
// (from another connection, or after a failed load) is cheap and keeps the
// first configuration, as SQLite keeps the first VFS.
func load() error {
	loadMu.Lock()
	defer loadMu.Unlock()
	if loaded != nil {
		return nil
	}
	syncEnviron()
	cfg, err := vfs.ConfigFromEnv()
	if err != nil {
		return err
	}
	replica := "" // the default replica as its backend names it: no secrets
	if cfg.DefaultReplica != "" {
		if replica, err = checkReplica(cfg.DefaultReplica); err != nil {
			return err
		}
	}
	v, err := vfs.Register(cfg)
	if err != nil {
		return fmt.Errorf("register VFS: %w", err)
	}
	loaded = v
	if cfg.Logger != nil {
		poll, cache := cfg.PollInterval, cfg.CacheSize
		if poll <= 0 {
			poll = vfs.DefaultPollInterval
		}
		if cache <= 0 {
			cache = vfs.DefaultCacheSize
		}
		cfg.Logger.Info("strata extension loaded", "vfs", vfs.Name,
			"default_replica", replica, "poll_interval", poll, "cache_size", cache)
	}
	return nil
}

// checkReplica opens the default replica's storage and lists it, so that a
// bad URL, missing credentials or unreachable storage fail the load with
// the reason, instead of a later "unable to open database file". An empty
// replica is fine: a connection may wait for it (wait= URI parameter).
func checkReplica(url string) (string, error) {
	ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
	defer cancel()
	b, err := backends.Open(ctx, url)
	if err != nil {
		return "", fmt.Errorf("STRATA_REPLICA_URL: %w", err)
	}
	defer b.Close()
	if _, err := b.List(ctx, 0, 0); err != nil {
		if ctx.Err() != nil {
			return "", fmt.Errorf("STRATA_REPLICA_URL: %s: no answer within %s: %w", b, checkTimeout, err)
		}
		return "", fmt.Errorf("STRATA_REPLICA_URL: %s: %w", b, err)
	}
	return b.String(), nil
}

// syncEnviron makes os.Getenv see the host process's environment as it is
// now. A Go library loaded into a running process takes its environment
// from the process's startup block, so without this a variable the host
// set before loading the extension (os.environ[...] in Python,
// process.env in Node) would be invisible to ConfigFromEnv and to the AWS
// SDK. Only variables that differ are touched.
func syncEnviron() {
	now := make(map[string]string)
	for i := 0; ; i++ {
		p := C.strata_environ(C.int(i))
		if p == nil {
			break
		}
		if k, v, ok := strings.Cut(C.GoString(p), "="); ok && k != "" {
			now[k] = v
		}
	}
	for _, kv := range os.Environ() {
		if k, _, _ := strings.Cut(kv, "="); k != "" {
			if _, ok := now[k]; !ok {
				_ = os.Unsetenv(k)
			}
		}
	}
	for k, v := range now {
		if old, ok := os.LookupEnv(k); !ok || old != v {
			_ = os.Setenv(k, v)
		}
	}
}
