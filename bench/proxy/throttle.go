package proxy

import (
	"io"
	"time"
)

// throttleChunk bounds one read, so a slow cap trickles bytes steadily
// instead of sleeping long and then sending a burst.
const throttleChunk = 16 << 10

// throttledBody delivers a body no faster than rate bytes per second,
// measured from its first read.
type throttledBody struct {
	io.ReadCloser
	rate  int64
	start time.Time
	sent  int64
}

func newThrottledBody(body io.ReadCloser, rate int64) *throttledBody {
	return &throttledBody{ReadCloser: body, rate: rate}
}

func (t *throttledBody) Read(b []byte) (int, error) {
	if t.start.IsZero() {
		t.start = time.Now()
	}
	if len(b) > throttleChunk {
		b = b[:throttleChunk]
	}
	n, err := t.ReadCloser.Read(b)
	t.sent += int64(n)
	// Sleep until the bytes sent so far are due at the capped rate.
	due := t.start.Add(time.Duration(float64(t.sent) / float64(t.rate) * float64(time.Second)))
	if wait := time.Until(due); wait > 0 {
		time.Sleep(wait)
	}
	return n, err
}
