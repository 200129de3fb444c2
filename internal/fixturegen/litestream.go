package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"time"
)

// litestreamVersion is the Litestream the fixtures are written with.
const litestreamVersion = "v0.5.18"

const installHint = "install it with `go install github.com/benbjohnson/litestream/cmd/litestream@" + litestreamVersion + "` (it lands in $(go env GOPATH)/bin)"

// findLitestream returns the litestream binary to use: path if given, else
// litestream on PATH or in GOPATH/bin. It must be litestreamVersion.
func findLitestream(path string) (string, error) {
	if path == "" {
		var err error
		path, err = exec.LookPath("litestream")
		if err != nil {
			gobin := filepath.Join(goPath(), "bin", "litestream")
			if _, statErr := os.Stat(gobin); statErr != nil {
				return "", fmt.Errorf("litestream not found on PATH or at %s: %s", gobin, installHint)
			}
			path = gobin
		}
	}
	out, err := exec.Command(path, "version").Output()
	if err != nil {
		return "", fmt.Errorf("%s version: %w; %s", path, err, installHint)
	}
	if v := strings.TrimSpace(string(out)); v != litestreamVersion {
		return "", fmt.Errorf("%s version says %q; the fixtures are written with litestream %s: %s", path, v, litestreamVersion, installHint)
	}
	return path, nil
}

func goPath() string {
	if p := os.Getenv("GOPATH"); p != "" {
		return strings.Split(p, string(os.PathListSeparator))[0]
	}
	if out, err := exec.Command("go", "env", "GOPATH").Output(); err == nil {
		return strings.TrimSpace(string(out))
	}
	home, _ := os.UserHomeDir()
	return filepath.Join(home, "go")
}

// litestreamEnv is the environment for litestream: ours without
// AWS_CA_BUNDLE. Litestream's AWS client fails when it is set; a file
// replica should never reach that client, and nothing is lost by leaving
// the variable out.
func litestreamEnv() []string {
	var env []string
	for _, kv := range os.Environ() {
		if !strings.HasPrefix(kv, "AWS_CA_BUNDLE=") {
			env = append(env, kv)
		}
	}
	return env
}

// replicator is a running `litestream replicate`. Its methods are called
// from the generator's goroutine only; the goroutine started by
// startReplicate only waits for the process and closes exit.
type replicator struct {
	cmd     *exec.Cmd
	log     string        // path of its log file
	exit    chan struct{} // closed when the process has exited
	waitErr error         // cmd.Wait's result, valid once exit is closed
	stopped bool          // stop was called
}

// startReplicate runs `litestream replicate -config cfg`, logging to log.
func startReplicate(bin, cfg, log string) (*replicator, error) {
	lf, err := os.Create(log)
	if err != nil {
		return nil, err
	}
	cmd := exec.Command(bin, "replicate", "-config", cfg)
	cmd.Env = litestreamEnv()
	cmd.Stdout, cmd.Stderr = lf, lf
	if err := cmd.Start(); err != nil {
		lf.Close()
		return nil, fmt.Errorf("start %s: %w", bin, err)
	}
	r := &replicator{cmd: cmd, log: log, exit: make(chan struct{})}
	go func() {
		r.waitErr = cmd.Wait()
		lf.Close()
		close(r.exit)
	}()
	return r, nil
}

// exited reports an exit of litestream that stop did not ask for, with its
// log.
func (r *replicator) exited() error {
	if r.stopped {
		return nil
	}
	select {
	case <-r.exit:
		return fmt.Errorf("litestream replicate exited (%v):\n%s", r.waitErr, r.tail())
	default:
		return nil
	}
}

// stop asks litestream to shut down (it syncs what is pending first) and
// waits for it; after 30 s it is killed. Stopping twice is stopping once.
func (r *replicator) stop() error {
	if r.stopped {
		return nil
	}
	if err := r.exited(); err != nil {
		r.stopped = true
		return err
	}
	r.stopped = true
	_ = r.cmd.Process.Signal(syscall.SIGTERM)
	select {
	case <-r.exit:
		var exit *exec.ExitError
		if r.waitErr != nil && !errors.As(r.waitErr, &exit) {
			return r.waitErr
		}
		return nil
	case <-time.After(30 * time.Second):
		_ = r.cmd.Process.Kill()
		<-r.exit
		return fmt.Errorf("litestream replicate did not stop within 30 s of SIGTERM:\n%s", r.tail())
	}
}

// tail is the end of litestream's log.
func (r *replicator) tail() string {
	b, _ := os.ReadFile(r.log)
	if len(b) > 4000 {
		b = b[len(b)-4000:]
	}
	return string(bytes.TrimSpace(b))
}

// writeConfig writes litestream.yml for one database and its file replica.
// Litestream checks the WAL every 100 ms and copies to the replica as
// often. It does not checkpoint during the run: a checkpoint makes it
// write an extra level-0 file holding no page, a TXID that is no
// transaction of ours, at a moment that depends on timing.
func writeConfig(path string, w workload, db, replica string) error {
	cfg := strings.TrimSpace(w.config) + fmt.Sprintf(`
dbs:
  - path: %s
    monitor-interval: 100ms
    checkpoint-interval: 1h
    min-checkpoint-page-count: 1000000
    replica:
      type: file
      path: %s
      sync-interval: 100ms
`, db, replica)
	return os.WriteFile(path, []byte(cfg), 0o644)
}

// restoreTXID restores the replica at txid with `litestream restore`.
func restoreTXID(ctx context.Context, bin, replica, txid, out string) error {
	cmd := exec.CommandContext(ctx, bin, "restore", "-txid", txid, "-o", out, "file://"+replica)
	cmd.Env = litestreamEnv()
	if b, err := cmd.CombinedOutput(); err != nil {
		return fmt.Errorf("litestream restore -txid %s %s: %w\n%s", txid, replica, err, b)
	}
	return nil
}
