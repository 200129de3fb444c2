package testenv

import (
	"bytes"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"time"
)

// proc is a server process started for tests: its output, and Close to
// stop it (its whole process group) and wait for it.
type proc struct {
	name   string
	cmd    *exec.Cmd
	exited chan struct{} // closed when the process has been reaped
	output *lockedBuffer
	once   sync.Once
}

func startProc(name string, cmd *exec.Cmd) (*proc, error) {
	out := &lockedBuffer{}
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start %s: %w", name, err)
	}
	p := &proc{name: name, cmd: cmd, exited: make(chan struct{}), output: out}
	go func() {
		_ = cmd.Wait()
		close(p.exited)
	}()
	return p, nil
}

// waitReady polls url until ok accepts an answer (so that the process that
// answers is ours, not another one that took the port first), the process
// exits, or timeout passes.
func (p *proc) waitReady(url string, timeout time.Duration, ok func(*http.Response) error) error {
	deadline := time.Now().Add(timeout)
	hc := &http.Client{Timeout: time.Second}
	for {
		select {
		case <-p.exited:
			return fmt.Errorf("%s exited before answering on %s:\n%s", p.name, url, p.output)
		default:
		}
		resp, err := hc.Get(url)
		if err == nil {
			resp.Body.Close()
			if err = ok(resp); err == nil {
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("%s did not answer on %s within %v: %w\n%s", p.name, url, timeout, err, p.output)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Close stops the process group and waits for the process.
func (p *proc) Close() {
	p.once.Do(func() {
		killGroup(p.cmd.Process)
		select {
		case <-p.exited:
		case <-time.After(10 * time.Second):
		}
	})
}

// findBinary looks for a program on PATH and where `go install` puts it.
func findBinary(name, hint string) (string, error) {
	if p, err := exec.LookPath(name); err == nil {
		return p, nil
	}
	for _, dir := range goBinDirs() {
		p := filepath.Join(dir, name)
		if fi, err := os.Stat(p); err == nil && !fi.IsDir() {
			return p, nil
		}
	}
	return "", fmt.Errorf("%s not found in PATH or $(go env GOPATH)/bin: %s", name, hint)
}

// startRetrying runs start up to three times: a free port can be taken
// between probing and binding.
func startRetrying[T any](start func() (T, error)) (T, error) {
	for attempt := 0; ; attempt++ {
		v, err := start()
		if err == nil || attempt == 2 {
			return v, err
		}
	}
}

// Output is what the server printed so far, for diagnosing failures.
func (p *proc) Output() string { return p.output.String() }

// lockedBuffer collects a child's output, keeping only the tail.
type lockedBuffer struct {
	mu  sync.Mutex
	buf bytes.Buffer
}

const maxOutput = 64 << 10

func (b *lockedBuffer) Write(p []byte) (int, error) {
	b.mu.Lock()
	defer b.mu.Unlock()
	b.buf.Write(p)
	if b.buf.Len() > maxOutput {
		b.buf.Next(b.buf.Len() - maxOutput)
	}
	return len(p), nil
}

func (b *lockedBuffer) String() string {
	b.mu.Lock()
	defer b.mu.Unlock()
	return b.buf.String()
}
