package bench

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"time"

	"github.com/strata-db/strata/bench/proxy"
)

// runResult is one cold run of one scenario, as the parent saw it.
type runResult struct {
	Scenario string `json:"scenario"`
	Repeat   int    `json:"repeat"`
	childResult
	PeakRSS int64         `json:"peak_rss_bytes"`
	Process time.Duration `json:"process_ns"` // the whole child, start to exit
	Proxy   proxy.Stats   `json:"proxy"`      // every request of the run
	Err     string        `json:"error,omitempty"`
}

// phase returns the run's phase called name, if it has one.
func (r runResult) phase(name string) (phase, bool) {
	for _, p := range r.Phases {
		if p.Name == name {
			return p, true
		}
	}
	return phase{}, false
}

// runChild runs spec in a fresh process of this binary, with its own
// temporary directory so that nothing cached on disk survives between runs.
func (e *env) runChild(ctx context.Context, spec childSpec, repeat int) runResult {
	r := runResult{Scenario: spec.Scenario, Repeat: repeat}
	tmp, err := os.MkdirTemp(e.work, "run-")
	if err != nil {
		r.Err = err.Error()
		return r
	}
	defer os.RemoveAll(tmp)
	ctx, cancel := context.WithTimeout(ctx, e.cfg.Timeout)
	defer cancel()
	in, _ := json.Marshal(spec)
	var stdout bytes.Buffer
	stderr := &tailBuffer{max: 4 << 10}
	cmd := exec.CommandContext(ctx, e.cfg.Exe, append(append([]string{}, e.cfg.ChildArgs...), "-child")...)
	cmd.Stdin, cmd.Stdout, cmd.Stderr = bytes.NewReader(in), &stdout, stderr
	cmd.Env = append(append(os.Environ(), e.srv.Env()...), "TMPDIR="+tmp)
	cmd.SysProcAttr = childProcAttr()
	cmd.WaitDelay = 5 * time.Second

	e.px.Reset()
	start := time.Now()
	err = cmd.Run()
	r.Process = time.Since(start)
	r.Proxy = e.px.Stats()
	if err != nil {
		r.Err = childError(ctx, err, stderr.String())
		return r
	}
	if err := json.Unmarshal(lastLine(stdout.Bytes()), &r.childResult); err != nil {
		r.Err = fmt.Sprintf("child printed no result: %v\n%s", err, stderr)
	}
	r.PeakRSS = r.HighWater
	return r
}

func childError(ctx context.Context, err error, stderr string) string {
	if ctx.Err() == context.DeadlineExceeded {
		return fmt.Sprintf("timed out (-timeout): %s", strings.TrimSpace(stderr))
	}
	if msg := strings.TrimSpace(stderr); msg != "" {
		return msg
	}
	return err.Error()
}

func lastLine(b []byte) []byte {
	b = bytes.TrimRight(b, "\n")
	if i := bytes.LastIndexByte(b, '\n'); i >= 0 {
		return b[i+1:]
	}
	return b
}

// tailBuffer keeps the last max bytes written to it: a child's last words.
type tailBuffer struct {
	max int
	buf []byte
}

func (t *tailBuffer) Write(p []byte) (int, error) {
	t.buf = append(t.buf, p...)
	if len(t.buf) > t.max {
		t.buf = t.buf[len(t.buf)-t.max:]
	}
	return len(p), nil
}

func (t *tailBuffer) String() string { return string(t.buf) }
