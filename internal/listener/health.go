package listener

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/group"
)

// StartReporter is implemented by Outputs that can tell when every output's
// plugin has started (been configured) at least once. Without it, outputs
// count as started as soon as they were handed to Run.
type StartReporter interface {
	AllStarted() bool
}

// StallReporter is implemented by Outputs that can tell whether they are
// making progress; the error names the output that is not.
type StallReporter interface {
	Stalled(now time.Time) error
}

// startPoll is how often the listener looks whether every output started.
const startPoll = 20 * time.Millisecond

// sweepStale: a registry whose sweep (every group.SweepInterval) has not
// moved for this long is wedged.
const sweepStale = 40 * group.SweepInterval

// health answers the service manager's watchdog: is the listener making
// progress? It is cheap (a few atomic loads), so it can be asked often.
type health struct {
	reg     *group.Registry
	outputs Outputs
	// sockets says how many listen sockets are being read, of how many.
	sockets func() (open, total int)

	mu        sync.Mutex
	lastSweep int64     // the registry's LastSweep at the previous check
	lastMove  time.Time // when it was last seen to change (monotonic)
}

// check returns nil while every socket reader runs, the registry's sweep
// loop keeps ticking, and the outputs (if they can tell) make progress;
// otherwise an error saying what is stuck.
func (h *health) check(now time.Time) error {
	if open, total := h.sockets(); open != total {
		return fmt.Errorf("%d of %d socket readers running", open, total)
	}
	sweep := h.reg.LastSweep()
	h.mu.Lock()
	if sweep != h.lastSweep || h.lastMove.IsZero() {
		h.lastSweep, h.lastMove = sweep, now
	}
	still := now.Sub(h.lastMove)
	h.mu.Unlock()
	if still > sweepStale {
		return fmt.Errorf("group state: no sweep for %v (every %v expected)", still.Round(time.Millisecond), group.SweepInterval)
	}
	if s, ok := h.outputs.(StallReporter); ok {
		if err := s.Stalled(now); err != nil {
			return fmt.Errorf("outputs: %w", err)
		}
	}
	return nil
}

// healthy is check for the watchdog: a bool, with the reason logged.
func (h *health) healthy(log hclog.Logger) func() bool {
	return func() bool {
		if err := h.check(time.Now()); err != nil {
			log.Warn("listener not making progress", "error", err)
			return false
		}
		return true
	}
}

// waitStarted waits until every output has started (see StartReporter),
// then calls started with a status line. It gives up when ctx ends.
func waitStarted(ctx context.Context, outputs Outputs, sockets int, started func(status string)) {
	status := fmt.Sprintf("listening on %d sockets", sockets)
	if sockets == 1 {
		status = "listening on 1 socket"
	}
	if outputs != nil {
		if s, ok := outputs.(StartReporter); ok {
			t := time.NewTicker(startPoll)
			defer t.Stop()
			for !s.AllStarted() {
				select {
				case <-ctx.Done():
					return
				case <-t.C:
				}
			}
		}
		status += ", every output running"
	}
	started(status)
}
