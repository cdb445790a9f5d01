package agent

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// Leave and drain timing.
const (
	// leaveCopies leaves are sent to each destination, leaveSpacing
	// apart, so that one lost datagram does not leave the member in the
	// listeners' sets until it expires.
	leaveCopies  = 3
	leaveSpacing = 5 * time.Millisecond
	// drainPoll is the longest time between two looks at the drain file,
	// whatever the interval.
	drainPoll = 250 * time.Millisecond
	// jitter is the fraction of the interval each wait may differ from it
	// by, either way.
	jitter = 0.1
)

// checkVersion fills in the default wire version and refuses v2-only
// settings on v1, naming them.
func checkVersion(cfg *Config) error {
	switch cfg.Version {
	case 0:
		cfg.Version = protocol.Version
	case protocol.Version, protocol.VersionV2:
	default:
		return fmt.Errorf("unknown protocol version 0x%04x", cfg.Version)
	}
	if cfg.Version == protocol.VersionV2 {
		return nil
	}
	var v2only []string
	if cfg.KeyID != 0 {
		v2only = append(v2only, fmt.Sprintf("key id %d", cfg.KeyID))
	}
	if cfg.Port != 0 {
		v2only = append(v2only, fmt.Sprintf("port %d", cfg.Port))
	}
	if cfg.Weight != 0 {
		v2only = append(v2only, fmt.Sprintf("weight %d", cfg.Weight))
	}
	if len(v2only) > 0 {
		return fmt.Errorf("%s: only protocol v2 can send this", strings.Join(v2only, ", "))
	}
	return nil
}

// nextTimestamp is the timestamp of the datagram after one stamped last
// (µs), given the clock reads now: never the same nor earlier, so a
// listener's anti-replay mark never drops a fresh datagram of this agent
// after the wall clock steps back.
func nextTimestamp(now, last int64) int64 {
	return max(now, last+1)
}

// jittered returns interval moved by up to ±10% as r goes over [0, 1):
// 0 gives 90% of it, 0.5 all of it, and r near 1 just under 110%.
func jittered(interval time.Duration, r float64) time.Duration {
	return interval + time.Duration((2*r-1)*jitter*float64(interval))
}

// ToggleDrain flips the agent's manual drain switch (what SIGUSR1 does):
// Run stops announcing when it turns on, and resumes when it turns off and
// no drain file exists. It may be called from any goroutine.
func (a *Agent) ToggleDrain() {
	for {
		v := a.manualDrain.Load()
		if a.manualDrain.CompareAndSwap(v, !v) {
			break
		}
	}
	select {
	case a.toggle <- struct{}{}:
	default: // Run has a wake-up pending already and reads the switch then
	}
}

// Run announces to every destination at once and then after each Interval
// (±10%, see jittered) until ctx is done or the Agent is closed. When ctx
// is done a v2 agent sends a leave to every destination (leaveCopies
// copies, leaveSpacing apart) before Run returns nil; Close just stops it.
// While drained (DrainFile exists, ToggleDrain turned the switch on, or
// the Health monitor reports unhealthy) it does not announce; a v2 agent sends a leave on the way into drain, and
// the way out announces at once. A failed send, or a socket that cannot be
// opened, is logged at warn level with its destination and retried at the
// next tick; it never ends Run. Run fails only if Interval is not positive.
func (a *Agent) Run(ctx context.Context) error {
	if a.cfg.Interval <= 0 {
		return fmt.Errorf("announcing at an interval needs a positive interval, got %s", a.cfg.Interval)
	}
	var poll <-chan time.Time
	if a.cfg.DrainFile != "" {
		t := time.NewTicker(drainPoll)
		defer t.Stop()
		poll = t.C
	}
	var healthChanged <-chan struct{}
	if a.cfg.Health != nil {
		hctx, cancel := context.WithCancel(ctx)
		stopped := make(chan struct{})
		go func() {
			defer close(stopped)
			a.cfg.Health.Run(hctx)
		}()
		defer func() { cancel(); <-stopped }() // no check process outlives Run
		_, _, healthChanged = a.cfg.Health.Status()
	}
	timer := time.NewTimer(0) // the first announcement goes at once
	defer timer.Stop()
	drained := false
	for {
		announce := false
		select {
		case <-healthChanged:
			_, _, healthChanged = a.cfg.Health.Status()
		case <-ctx.Done():
			_ = a.leave() // ErrClosed: nothing left to send through
			return nil
		case <-a.done:
			return nil
		case <-timer.C:
			announce = true
			timer.Reset(jittered(a.cfg.Interval, a.cfg.Rand()))
		case <-poll:
		case <-a.toggle:
		}
		now, why := a.drainState(drained)
		if now != drained {
			drained = now
			if drained {
				a.log.Info("drained: not announcing", "reason", why)
				if a.leave() != nil {
					return nil // closed
				}
			} else {
				a.log.Info("drain over: announcing again")
				announce = true
				timer.Reset(jittered(a.cfg.Interval, a.cfg.Rand()))
			}
		}
		if announce && !drained && a.send(a.logResult) != nil {
			return nil // closed
		}
	}
}

// drainState reports whether the agent should be drained and why. A drain
// file that cannot be looked at (other than for not existing) leaves the
// state as it was, logged at debug level.
func (a *Agent) drainState(was bool) (bool, string) {
	var why []string
	if a.cfg.DrainFile != "" {
		_, err := os.Stat(a.cfg.DrainFile)
		switch {
		case err == nil:
			why = append(why, "drain file "+a.cfg.DrainFile+" exists")
		case !errors.Is(err, fs.ErrNotExist):
			a.log.Debug("drain file unreadable, drain state unchanged", "error", err)
			if was {
				why = append(why, "drain file "+a.cfg.DrainFile+" unreadable")
			}
		}
	}
	if a.manualDrain.Load() {
		why = append(why, "drain switch on (SIGUSR1)")
	}
	if a.cfg.Health != nil {
		if healthy, reason, _ := a.cfg.Health.Status(); !healthy {
			why = append(why, "unhealthy: "+reason)
		}
	}
	return len(why) > 0, strings.Join(why, "; ")
}

// leave sends a v2 agent's leave to every destination leaveCopies times,
// each with a newer timestamp, logging failures like announcements. A v1
// agent has no way to say it leaves and sends nothing. It returns ErrClosed
// once the Agent is closed.
func (a *Agent) leave() error {
	if a.cfg.Version != protocol.VersionV2 {
		return nil
	}
	for i := range leaveCopies {
		if i > 0 {
			select {
			case <-a.done:
				return ErrClosed
			case <-time.After(leaveSpacing):
			}
		}
		if err := a.sendDatagram(true, a.logResult); err != nil {
			return err
		}
	}
	return nil
}
