package bench

import (
	"bufio"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/exec"
	"slices"
	"strconv"
	"strings"
	"time"
)

// W3: how long after a COMMIT returns a reader in another process sees
// it. The child writes (sync=commit) and starts the reader, a process of
// its own (scenario w3Reader), which reads the newest row id over and
// over and says when it changes. The writer commits spec.Samples rows, one
// at a time, each at a random moment of the reader's poll interval, and
// waits until the reader reports it.

// w3Reader is the reader process of W3; it is not a scenario of its own.
const w3Reader = "W3-reader"

// seenTimeout bounds the wait for one commit to be seen.
const seenTimeout = 30 * time.Second

// readerPoll is how often the reader reads the newest row: the error it
// adds to each sample.
const readerPoll = time.Millisecond

// runSeenLatency is W3's writer.
func runSeenLatency(ctx context.Context, c *child) error {
	if err := c.openWriter(ctx, "commit"); err != nil {
		return err
	}
	r, err := startSeenReader(ctx, c.spec)
	if err != nil {
		return err
	}
	defer r.stop()
	rng := rand.New(rand.NewPCG(c.spec.Seed, 3))
	var lat []time.Duration
	err = c.measure(ctx, "seen", func() (string, error) {
		for i := int64(1); i <= int64(c.spec.Samples); i++ {
			// A random moment of the reader's poll interval (1s).
			time.Sleep(time.Duration(rng.Int64N(int64(time.Second))))
			if _, err := c.conn.ExecContext(ctx, `insert into w(id, t) values (?, ?)`, i, time.Now().UnixNano()); err != nil {
				return "", err
			}
			committed := time.Now()
			seen, err := r.waitFor(i)
			if err != nil {
				return "", err
			}
			lat = append(lat, seen.Sub(committed))
		}
		return fmt.Sprintf("%d commits seen", len(lat)), nil
	})
	if err != nil {
		return err
	}
	slices.Sort(lat)
	c.res.Rates = map[string]float64{
		"p50_ms": float64(lat[(len(lat)-1)/2]) / float64(time.Millisecond),
		"max_ms": float64(lat[len(lat)-1]) / float64(time.Millisecond),
	}
	return nil
}

// seenReader is W3's reader process, as its writer drives it.
type seenReader struct {
	cmd   *exec.Cmd
	stdin io.WriteCloser
	seen  chan seenEvent
}

type seenEvent struct {
	id  int64
	at  time.Time
	err error
}

// startSeenReader starts the reader on the writer's replica and waits
// until it reads it.
func startSeenReader(ctx context.Context, spec childSpec) (*seenReader, error) {
	exe, err := os.Executable()
	if err != nil {
		return nil, err
	}
	rs := spec
	rs.Scenario = w3Reader
	in, _ := json.Marshal(rs)
	cmd := exec.CommandContext(ctx, exe, append(slices.Clone(spec.ChildArgs), "-child")...)
	cmd.Stderr = os.Stderr
	stdin, err := cmd.StdinPipe()
	if err != nil {
		return nil, err
	}
	stdout, err := cmd.StdoutPipe()
	if err != nil {
		return nil, err
	}
	if err := cmd.Start(); err != nil {
		return nil, fmt.Errorf("start the W3 reader: %w", err)
	}
	if _, err := stdin.Write(append(in, '\n')); err != nil {
		cmd.Process.Kill()
		cmd.Wait()
		return nil, err
	}
	r := &seenReader{cmd: cmd, stdin: stdin, seen: make(chan seenEvent, 16)}
	go func() {
		defer close(r.seen)
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			f := strings.Fields(sc.Text())
			if len(f) != 3 || f[0] != "seen" {
				continue // the reader's result line
			}
			id, err1 := strconv.ParseInt(f[1], 10, 64)
			ns, err2 := strconv.ParseInt(f[2], 10, 64)
			if err1 != nil || err2 != nil {
				r.seen <- seenEvent{err: fmt.Errorf("W3 reader printed %q", sc.Text())}
				return
			}
			r.seen <- seenEvent{id: id, at: time.Unix(0, ns)}
		}
	}()
	if _, err := r.waitFor(0); err != nil { // the empty table, read
		r.stop()
		return nil, err
	}
	return r, nil
}

// waitFor returns when the reader first saw row id as the newest.
func (r *seenReader) waitFor(id int64) (time.Time, error) {
	timeout := time.After(seenTimeout)
	for {
		select {
		case e, ok := <-r.seen:
			switch {
			case !ok:
				return time.Time{}, fmt.Errorf("the W3 reader ended before it saw row %d", id)
			case e.err != nil:
				return time.Time{}, e.err
			case e.id == id:
				return e.at, nil
			case e.id > id:
				return time.Time{}, fmt.Errorf("the W3 reader saw row %d before row %d", e.id, id)
			}
		case <-timeout:
			return time.Time{}, fmt.Errorf("the W3 reader did not see row %d within %s", id, seenTimeout)
		}
	}
}

// stop ends the reader (closing its stdin) and waits for it.
func (r *seenReader) stop() {
	r.stdin.Close()
	done := make(chan struct{})
	go func() { r.cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		r.cmd.Process.Kill()
		<-done
	}
}

// runSeenReader is W3's reader: it prints "seen ID UNIXNANO" each time the
// newest row id changes, until its stdin ends.
func runSeenReader(ctx context.Context, c *child) error {
	db, err := c.open(c.spec.ReplicaURL, c.spec.CacheBytes)
	if err != nil {
		return err
	}
	c.db = db
	if c.conn, err = db.Conn(ctx); err != nil {
		return err
	}
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	go func() {
		_, _ = io.Copy(io.Discard, c.in)
		cancel()
	}()
	last := int64(-1)
	for ctx.Err() == nil {
		var id int64
		err := c.conn.QueryRowContext(ctx, `select coalesce(max(id), 0) from w`).Scan(&id)
		if ctx.Err() != nil {
			break
		}
		if err != nil {
			return err
		}
		if id != last {
			fmt.Fprintf(c.out, "seen %d %d\n", id, time.Now().UnixNano())
			last = id
		}
		time.Sleep(readerPoll)
	}
	return nil
}
