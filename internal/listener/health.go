package listener

import (
	"context"
	"fmt"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/group"
)

// progress is what the ready notification and the watchdog ask of the
// outputs (*outputs; a stub in tests).
type progress interface {
	// AllStarted: every output's plugin has been configured at least once.
	AllStarted() bool
	// Stalled names an output that is not making progress.
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
	outputs progress // nil: no outputs to ask
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
	if h.outputs != nil {
		if err := h.outputs.Stalled(now); err != nil {
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

// waitStarted waits until every output has started, then calls started
// with a status line (outputs nil: at once). It gives up when ctx ends.
func waitStarted(ctx context.Context, outputs progress, sockets int, started func(status string)) {
	status := fmt.Sprintf("listening on %d sockets", sockets)
	if sockets == 1 {
		status = "listening on 1 socket"
	}
	if outputs != nil {
		t := time.NewTicker(startPoll)
		defer t.Stop()
		for !outputs.AllStarted() {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
		}
		status += ", every output running"
	}
	started(status)
}
