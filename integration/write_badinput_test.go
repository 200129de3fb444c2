package integration

import (
	"context"
	"database/sql"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/aws/aws-sdk-go-v2/aws"
	"github.com/aws/aws-sdk-go-v2/service/s3"
	"github.com/strata-db/strata/internal/testenv"
)

// What users get wrong when they write, each answered with a clear error
// and nothing half-written or lost. The backend makes no difference to
// these, except for storage refusing uploads (versitygw behind a proxy
// answering 403); they run on a directory replica.
func TestWriteBadInput(t *testing.T) {
	env := cliEnv(t)

	t.Run("writes with writes disabled", func(t *testing.T) {
		rep := filepath.Join(t.TempDir(), "replica")
		strataOK(t, env, "", "exec", "-buffer", t.TempDir(), rep, "create table t(v)")
		before := replicaFiles(t, rep)
		strataFails(t, 1, []string{"readonly", "strata exec"}, env, "", "query", rep, "insert into t values (1)")
		sh := startStrata(t, env, "", "shell", rep)
		sh.stdin.Write([]byte("insert into t values (1);\n"))
		sh.stdin.Close()
		if code := sh.wait(t); code != 1 || !strings.Contains(sh.stderr.String(), "strata shell -write") {
			t.Errorf("shell without -write: exit %d, stderr %q; want 1 and how to write", code, sh.stderr)
		}
		if after := replicaFiles(t, rep); !slices.Equal(before, after) {
			t.Errorf("refused writes changed the replica: %v -> %v", before, after)
		}
	})

	t.Run("journal_mode=WAL", func(t *testing.T) {
		rep := filepath.Join(t.TempDir(), "replica")
		buffer := t.TempDir()
		strataOK(t, env, "", "exec", "-buffer", buffer, rep, "create table t(v)")
		before := replicaFiles(t, rep)
		strataFails(t, 1, []string{"journal_mode=WAL is not supported"}, env, "", "exec", "-buffer", buffer, rep, "pragma journal_mode=wal", "insert into t values (1)")
		if after := replicaFiles(t, rep); !slices.Equal(before, after) {
			t.Errorf("a refused journal_mode=WAL changed the replica: %v -> %v", before, after)
		}
		strataOK(t, env, "", "exec", "-buffer", buffer, rep, "insert into t values (1)")
		if r := strataOK(t, env, "", "query", rep, "pragma journal_mode"); r.stdout != "delete\n" {
			t.Errorf("journal mode after the refusal: %q", r.stdout)
		}
	})

	t.Run("a second writer process", func(t *testing.T) {
		b := dirBackend(t)
		buffer := t.TempDir()
		strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "create table rows(id integer primary key, pad blob)")
		first := startWriteload(t, b.env, "crash", "-url", b.url, "-buffer", buffer, "-sync", "200ms")
		first.waitLine("ok 3")
		// Group commit needs the buffer to itself: a second process is
		// told so at open, before anything is written.
		strataFails(t, 1, []string{"in use by another process", "buffer"}, env, "",
			"exec", "-sync", "1s", "-buffer", buffer, b.url, "insert into rows values (-1, null)")
		// A second writer with a buffer of its own stores a TXID the
		// first one's pending commits needed: the first process turns
		// read-only, says why, and keeps its buffer.
		strataOK(t, env, "", "exec", "-buffer", t.TempDir(), b.url, "insert into rows values (-2, null)")
		refused := first.waitFor("a write refused as read-only", func(l string) bool { return strings.HasPrefix(l, "fail ") })
		for _, want := range []string{" 8 ", "write conflict", "kept in " + filepath.Join(buffer, "pending.log"), "read-only for this process"} {
			if !strings.Contains(refused, want) {
				t.Errorf("the first writer's refused write says %q, want it to mention %q", refused, want)
			}
		}
		first.kill9()
		// Its next open reports the commits it cannot store, and keeps them.
		strataFails(t, 1, []string{"write conflict", "kept in " + filepath.Join(buffer, "pending.log")}, env, "",
			"exec", "-sync", "200ms", "-buffer", buffer, b.url, "insert into rows values (-3, null)")
		if _, err := os.Stat(filepath.Join(buffer, "pending.log")); err != nil {
			t.Errorf("the buffer with the acknowledged commits is gone: %v", err)
		}
		have := localIDs(t, restoreReplica(t, b.store), "rows")
		if !slices.Contains(have, -2) || slices.Contains(have, -1) || slices.Contains(have, -3) {
			t.Errorf("the replica holds %v: want the second writer's row -2, not the refused -1 and -3", have)
		}
	})

	t.Run("storage refuses uploads", func(t *testing.T) {
		srv := testenv.VersityGW(t)
		bucket := srv.CreateBucket(t, "read-only")
		proxy := newFaultProxy(t, srv.Endpoint())
		url := s3URL(proxy.URL(), bucket, "db")
		env := cliEnv(t, srv.Env()...)
		buffer := t.TempDir()
		strataOK(t, env, "", "exec", "-buffer", buffer, url, "create table t(v)")
		objects := bucketKeys(t, srv, bucket)
		proxy.set(faults{PutErrorRate: 1, PutStatus: 403})

		// sync=commit: the first write fails at COMMIT, saying why.
		strataFails(t, 1, []string{"access denied", "store TXID 0000000000000002"}, env, "", "exec", "-buffer", buffer, url, "insert into t values (1)")
		// Group commit: the COMMIT is acknowledged locally, storing it
		// fails when the command ends, which says so and keeps it.
		strataFails(t, 1, []string{"access denied", "store the commits"}, env, "", "exec", "-sync", "1s", "-buffer", buffer, url, "insert into t values (2)")
		if got := bucketKeys(t, srv, bucket); !slices.Equal(got, objects) {
			t.Errorf("refused uploads left objects behind: %v -> %v", objects, got)
		}
		// Once storage takes uploads again, the next open stores it.
		proxy.set(faults{})
		r := strataOK(t, env, "", "exec", "-sync", "1s", "-buffer", buffer, url, "select group_concat(v) from t")
		if !strings.HasPrefix(r.stdout, "2\n") || !strings.Contains(r.stdout, "stored TXID 0000000000000002") {
			t.Errorf("after storage recovered: %s; want the acknowledged row 2 stored as TXID 2", r)
		}
	})

	t.Run("a full local disk", func(t *testing.T) {
		// The workload's files may not grow past 256 KiB (RLIMIT_FSIZE):
		// its write buffer finds the disk full.
		for _, tc := range []struct{ sync, big string }{
			{"commit", "400000"}, // every tenth transaction is too big for the buffer
			{"200ms", "30000"},   // the group commit log fills up
		} {
			t.Run("sync="+tc.sync, func(t *testing.T) {
				b := dirBackend(t)
				buffer := t.TempDir()
				w := startWriteload(t, b.env, "crash", "-url", b.url, "-buffer", buffer, "-sync", tc.sync,
					"-big", tc.big, "-max-file-size", strconv.Itoa(256<<10))
				full := w.waitFor("a commit failing with SQLITE_FULL", func(l string) bool {
					return strings.HasPrefix(l, "fail ")
				})
				if f := strings.Fields(full); f[2] != "13" || !strings.Contains(full, "file too large") {
					t.Errorf("a full disk failed a commit with %q, want SQLITE_FULL (13) naming the cause", full)
				}
				if tc.sync == "commit" {
					// The failed transaction is rolled back; smaller ones go on.
					id, _ := strconv.Atoi(strings.Fields(full)[1])
					w.waitLine("ok " + strconv.Itoa(id+1))
				}
				w.kill9()
				acked := idsWith(t, w.output(), "ok")
				failed := idsWith(t, w.output(), "fail")
				// The next open, with room on the disk, stores what the
				// buffer holds.
				strataOK(t, b.env, "", "exec", "-sync", tc.sync, "-buffer", buffer, b.url, "select 1")
				have := localIDs(t, restoreReplica(t, b.store), "rows")
				if lost := missing(acked, have); len(lost) > 0 {
					t.Errorf("%d acknowledged commits lost: %v", len(lost), lost)
				}
				for _, id := range failed {
					if _, ok := slices.BinarySearch(have, id); ok {
						t.Errorf("row %d, whose COMMIT failed, is in the replica", id)
					}
				}
				t.Logf("sync=%s: %d acknowledged commits kept, %d refused with SQLITE_FULL", tc.sync, len(acked), len(failed))
			})
		}
	})

	t.Run("a replica whose page size differs from the buffer's", func(t *testing.T) {
		b := dirBackend(t)
		buffer := t.TempDir()
		// Commits of 4096-byte pages wait in the buffer (sync=1h) when the
		// writer dies.
		w := startWriteload(t, b.env, "crash", "-url", b.url, "-buffer", buffer, "-sync", "1h")
		w.waitLine("ok 5")
		w.kill9()
		// Meanwhile the replica is replaced by a database of 1024-byte pages.
		dir := strings.TrimPrefix(b.url, "file://")
		if err := os.RemoveAll(dir); err != nil {
			t.Fatal(err)
		}
		src := filepath.Join(t.TempDir(), "small-pages.db")
		db, err := sql.Open("sqlite3", src)
		if err != nil {
			t.Fatal(err)
		}
		for _, q := range []string{`pragma page_size = 1024`, `create table rows(id integer primary key, pad blob)`} {
			if _, err := db.Exec(q); err != nil {
				t.Fatal(err)
			}
		}
		db.Close()
		strataOK(t, env, "", "import", src, b.url)
		before := replicaFiles(t, dir)
		strataFails(t, 1, []string{"readonly", "4096-byte pages", "1024-byte pages", filepath.Join(buffer, "pending.log")}, env, "",
			"exec", "-sync", "1h", "-buffer", buffer, b.url, "insert into rows values (-1, null)")
		if after := replicaFiles(t, dir); !slices.Equal(before, after) {
			t.Errorf("the replica changed: %v -> %v", before, after)
		}
		if _, err := os.Stat(filepath.Join(buffer, "pending.log")); err != nil {
			t.Errorf("the buffer with the acknowledged commits is gone: %v", err)
		}
	})
}

// replicaFiles lists the files of a directory replica.
func replicaFiles(t testing.TB, dir string) []string {
	t.Helper()
	var files []string
	err := filepath.WalkDir(dir, func(path string, d os.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			files = append(files, strings.TrimPrefix(path, dir))
		}
		return err
	})
	if err != nil {
		t.Fatal(err)
	}
	return files
}

// bucketKeys lists every object of bucket, and the multipart uploads left
// open in it.
func bucketKeys(t testing.TB, srv *testenv.S3Server, bucket string) []string {
	t.Helper()
	ctx := context.Background()
	out, err := srv.Client().ListObjectsV2(ctx, &s3.ListObjectsV2Input{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	var keys []string
	for _, o := range out.Contents {
		keys = append(keys, aws.ToString(o.Key))
	}
	up, err := srv.Client().ListMultipartUploads(ctx, &s3.ListMultipartUploadsInput{Bucket: aws.String(bucket)})
	if err != nil {
		t.Fatal(err)
	}
	for _, u := range up.Uploads {
		keys = append(keys, "upload:"+aws.ToString(u.Key))
	}
	return keys
}
