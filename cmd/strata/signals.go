package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync"
	"syscall"
)

// signalCause is the cause of the command's context when SIGINT or
// SIGTERM ended it.
type signalCause struct{ sig os.Signal }

func (c signalCause) Error() string { return "interrupted by " + c.sig.String() }

// String names the signal as users know it.
func (c signalCause) String() string {
	switch c.sig {
	case os.Interrupt:
		return "SIGINT"
	case syscall.SIGTERM:
		return "SIGTERM"
	}
	return c.sig.String()
}

// number is the signal's number, for the conventional exit status 128+n.
func (c signalCause) number() int {
	if s, ok := c.sig.(syscall.Signal); ok {
		return int(s)
	}
	return 2
}

// interruptedBy returns the signal that cancelled ctx, or nil.
func interruptedBy(ctx context.Context) *signalCause {
	var c signalCause
	if errors.As(context.Cause(ctx), &c) {
		return &c
	}
	return nil
}

// interrupts routes SIGINT to whoever registered for it (the shell, to
// cancel only the statement that runs) instead of ending the command.
//
// mu guards handler; the signal goroutine reads it, the shell sets it.
var interrupts struct {
	mu      sync.Mutex
	handler func() bool // true: the interrupt was taken care of
}

// onInterrupt makes SIGINT call h instead of cancelling the command while
// h returns true; the returned func removes it.
func onInterrupt(h func() bool) (remove func()) {
	interrupts.mu.Lock()
	interrupts.handler = h
	interrupts.mu.Unlock()
	return func() {
		interrupts.mu.Lock()
		interrupts.handler = nil
		interrupts.mu.Unlock()
	}
}

func routeInterrupt() bool {
	interrupts.mu.Lock()
	h := interrupts.handler
	interrupts.mu.Unlock()
	return h != nil && h()
}

// handleSignals returns the command's context: SIGINT (unless routed) or
// SIGTERM cancels it with a signalCause; a second one exits at once, for
// a command that does not stop.
func handleSignals() (context.Context, func()) {
	ctx, cancel := context.WithCancelCause(context.Background())
	ch := make(chan os.Signal, 2)
	signal.Notify(ch, os.Interrupt, syscall.SIGTERM)
	done := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		cancelled := false
		for {
			select {
			case <-done:
				return
			case s := <-ch:
				if s == os.Interrupt && routeInterrupt() {
					continue
				}
				if cancelled {
					os.Exit(128 + signalCause{s}.number())
				}
				cancelled = true
				cancel(signalCause{s})
			}
		}
	})
	return ctx, func() {
		signal.Stop(ch)
		close(done)
		wg.Wait()
		cancel(nil)
	}
}
