// Package health runs an agent's health checks (HTTP, TCP, exec) every
// interval and turns their results into a healthy/unhealthy state with
// rise/fall hysteresis, like keepalived's track_script or HAProxy's checks.
//
// Design decisions:
//
//   - A round runs every check at once, each bounded by the timeout; the
//     round passes only if all of them pass. The first failing check (in
//     the order given) is the reason reported.
//   - Rise consecutive passing rounds make an unhealthy state healthy, fall
//     consecutive failing rounds make a healthy one unhealthy; a round that
//     agrees with the state resets the opposite streak (State.Observe).
//   - The start state is unhealthy unless Config.InitHealthy: a service
//     must prove itself before it takes traffic.
//   - Each transition is logged once at info level with the reason; single
//     failing rounds that do not change the state are logged at debug.
package health

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for the Config fields left zero.
const (
	DefaultInterval = 2 * time.Second
	DefaultTimeout  = time.Second
	DefaultRise     = 2
	DefaultFall     = 3
)

// Check is one health check.
type Check interface {
	// Run performs the check once; nil means it passed. ctx carries the
	// timeout. The error says why it failed and need not name the check.
	Run(ctx context.Context) error
	// String names the check in logs ("http http://...", "tcp host:port").
	String() string
}

// Config describes the checks and how their results become a state.
type Config struct {
	Checks      []Check
	Interval    time.Duration // between round starts; 0 means DefaultInterval
	Timeout     time.Duration // per check; 0 means DefaultTimeout
	Rise        int           // 0 means DefaultRise
	Fall        int           // 0 means DefaultFall
	InitHealthy bool
	Logger      hclog.Logger // nil discards
}

// withDefaults fills zero fields and refuses negative ones or a timeout
// longer than the interval.
func (c Config) withDefaults() (Config, error) {
	if c.Interval == 0 {
		c.Interval = DefaultInterval
	}
	if c.Timeout == 0 {
		c.Timeout = DefaultTimeout
	}
	if c.Rise == 0 {
		c.Rise = DefaultRise
	}
	if c.Fall == 0 {
		c.Fall = DefaultFall
	}
	switch {
	case c.Interval < 0:
		return c, fmt.Errorf("check interval %s: must be positive", c.Interval)
	case c.Timeout < 0:
		return c, fmt.Errorf("check timeout %s: must be positive", c.Timeout)
	case c.Timeout > c.Interval:
		return c, fmt.Errorf("check timeout %s is longer than the check interval %s", c.Timeout, c.Interval)
	case c.Rise < 0:
		return c, fmt.Errorf("rise %d: must be at least 1", c.Rise)
	case c.Fall < 0:
		return c, fmt.Errorf("fall %d: must be at least 1", c.Fall)
	case len(c.Checks) == 0:
		return c, errors.New("no health checks")
	}
	if c.Logger == nil {
		c.Logger = hclog.NewNullLogger()
	}
	return c, nil
}

// State is the rise/fall counter.
type State struct {
	Healthy    bool
	rise, fall int
	streak     int // consecutive rounds disagreeing with Healthy
}

// NewState returns the start state for rise and fall (both at least 1).
func NewState(healthy bool, rise, fall int) State {
	return State{Healthy: healthy, rise: rise, fall: fall}
}

// Observe counts one round's result and reports whether the state
// changed.
func (s *State) Observe(pass bool) bool {
	if pass == s.Healthy {
		s.streak = 0
		return false
	}
	s.streak++
	need := s.fall
	if !s.Healthy {
		need = s.rise
	}
	if s.streak < need {
		return false
	}
	s.Healthy, s.streak = pass, 0
	return true
}

// Monitor runs the checks and holds the current state.
type Monitor struct {
	cfg Config

	mu      sync.Mutex
	state   State
	reason  string
	changed chan struct{} // closed and replaced at each transition
}

// New validates cfg, filling in its defaults.
func New(cfg Config) (*Monitor, error) {
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	m := &Monitor{cfg: cfg, state: NewState(cfg.InitHealthy, cfg.Rise, cfg.Fall), changed: make(chan struct{})}
	if !cfg.InitHealthy {
		m.reason = fmt.Sprintf("starting: not yet %d passing rounds", cfg.Rise)
	}
	return m, nil
}

// Status returns whether the service is healthy, why not when it is not,
// and a channel closed at the next transition.
func (m *Monitor) Status() (healthy bool, reason string, changed <-chan struct{}) {
	m.mu.Lock()
	defer m.mu.Unlock()
	return m.state.Healthy, m.reason, m.changed
}

// Run runs a round at once and then every interval until ctx is done.
func (m *Monitor) Run(ctx context.Context) {
	t := time.NewTicker(m.cfg.Interval)
	defer t.Stop()
	for {
		err := m.round(ctx)
		if ctx.Err() != nil {
			return // a round cut short by the stop says nothing of the service
		}
		m.observe(err)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// round runs every check at once and returns nil if all passed, else the
// first failure in the configured order, naming its check.
func (m *Monitor) round(ctx context.Context) error {
	ctx, cancel := context.WithTimeout(ctx, m.cfg.Timeout)
	defer cancel()
	errs := make([]error, len(m.cfg.Checks))
	var wg sync.WaitGroup
	for i, c := range m.cfg.Checks {
		wg.Add(1)
		go func() {
			defer wg.Done()
			errs[i] = c.Run(ctx)
		}()
	}
	wg.Wait()
	for i, err := range errs {
		if err != nil {
			return fmt.Errorf("check %s: %w", m.cfg.Checks[i], err)
		}
	}
	return nil
}

// observe counts one round and logs and publishes a transition.
func (m *Monitor) observe(err error) {
	m.mu.Lock()
	defer m.mu.Unlock()
	if !m.state.Observe(err == nil) {
		if err != nil {
			m.cfg.Logger.Debug("health check round failed", "reason", err.Error(), "healthy", m.state.Healthy)
		}
		return
	}
	if m.state.Healthy {
		m.reason = ""
		m.cfg.Logger.Info("healthy", "passing_rounds", m.cfg.Rise)
	} else {
		m.reason = err.Error()
		m.cfg.Logger.Info("unhealthy", "reason", m.reason, "failing_rounds", m.cfg.Fall)
	}
	close(m.changed)
	m.changed = make(chan struct{})
}

// describe names a check: its kind, then its target or argv.
func describe(kind string, parts ...string) string {
	return kind + " " + strings.Join(parts, " ")
}
