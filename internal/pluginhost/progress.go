package pluginhost

import (
	"errors"
	"fmt"
	"sync/atomic"
	"time"
)

// stepSlack is added to every step's bound: scheduling delays on a loaded
// machine must not make a working supervisor look wedged.
const stepSlack = 5 * time.Second

// progress records where one output's supervisor is: the time by which its
// current step (a launch, a Configure, a pump wake-up, a backoff, a
// shutdown) must be over, and whether its plugin has ever been configured.
// Every step is bounded by one of the host's timeouts, so a supervisor past
// its deadline is stuck, which Host.Stalled reports to the watchdog.
type progress struct {
	deadline atomic.Int64 // unix ns; 0: the supervisor has returned
	started  atomic.Bool  // a plugin was configured at least once
}

// step begins, at now, a step that ends within d. A nil *progress (a
// supervisor or pump built by a test) records nothing.
func (p *progress) step(now time.Time, d time.Duration) {
	if p != nil {
		p.deadline.Store(now.Add(d + stepSlack).UnixNano())
	}
}

// configured: the plugin runs.
func (p *progress) configured() {
	if p != nil {
		p.started.Store(true)
	}
}

// done: the supervisor returned (ctx ended, or a kind or pin that cannot
// heal); it can no longer be late.
func (p *progress) done() {
	if p != nil {
		p.deadline.Store(0)
	}
}

// launchBound bounds a launch plus Configure: the handshake, GetInfo and
// Configure.
func (o *Options) launchBound() time.Duration { return o.StartTimeout + 2*o.CallTimeout }

// shutdownBound bounds a plugin's shutdown: Stop, then up to two kill waits.
func (o *Options) shutdownBound() time.Duration { return o.StopTimeout + 2*killWait }

// AllStarted reports whether a Run is active and every one of its outputs
// has had a plugin configured (running) at least once. A listener reports
// itself ready to its service manager only then.
func (h *Host) AllStarted() bool {
	h.mu.Lock()
	defer h.mu.Unlock()
	if !h.running.Load() || h.progress == nil {
		return false
	}
	for _, p := range h.progress {
		if !p.started.Load() {
			return false
		}
	}
	return true
}

// Stalled returns an error naming every output whose supervisor is past
// the deadline of its current step (wedged: no launch, stream, backoff or
// shutdown takes that long), or nil when all make progress. It is cheap:
// the service manager's watchdog calls it.
func (h *Host) Stalled(now time.Time) error {
	h.mu.Lock()
	defer h.mu.Unlock()
	var errs []error
	for i, p := range h.progress {
		if d := p.deadline.Load(); d != 0 && now.UnixNano() > d {
			s := h.stats[i]
			errs = append(errs, fmt.Errorf("output %d (%s): no progress for %v past its step's deadline",
				s.index.Load(), s.kind, now.Sub(time.Unix(0, d)).Round(time.Millisecond)))
		}
	}
	return errors.Join(errs...)
}
