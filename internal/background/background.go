// Package background runs a function of a test in the background until the
// test stops it, and checks that it then returns nil in time: one shape for
// the servers, runners and hosts that tests start with a context and stop
// by cancelling it.
package background

import (
	"context"
	"sync"
	"testing"
	"time"
)

// Run is a function running in the background of a test.
type Run struct {
	t       testing.TB
	what    string
	timeout time.Duration
	cancel  context.CancelFunc
	exited  chan struct{}
	err     error // set before exited is closed

	once sync.Once
	took time.Duration
}

// Start runs fn with a context that Stop cancels. what names fn in
// failures (e.g. "Run", "server"). Stop is also called when the test ends.
func Start(t testing.TB, what string, timeout time.Duration, fn func(context.Context) error) *Run {
	ctx, cancel := context.WithCancel(context.Background())
	r := &Run{t: t, what: what, timeout: timeout, cancel: cancel, exited: make(chan struct{})}
	go func() {
		r.err = fn(ctx)
		close(r.exited)
	}()
	t.Cleanup(func() { r.Stop() })
	return r
}

// Exited is closed once fn has returned; Err then tells what it returned.
func (r *Run) Exited() <-chan struct{} { return r.exited }

// Err is what fn returned; call it only after Exited is closed.
func (r *Run) Err() error { return r.err }

// Stop cancels fn's context and waits for it to return. The test fails if
// fn returns an error, and stops if fn does not return within the timeout.
// Only the first call waits; every call returns how long that wait took.
func (r *Run) Stop() time.Duration {
	r.once.Do(func() {
		began := time.Now()
		r.cancel()
		select {
		case <-r.exited:
			if r.err != nil {
				r.t.Errorf("%s returned %v, want nil after cancel", r.what, r.err)
			}
		case <-time.After(r.timeout):
			r.t.Fatalf("%s did not return within %v of cancel", r.what, r.timeout)
		}
		r.took = time.Since(began)
	})
	return r.took
}
