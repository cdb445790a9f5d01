// Package log is the output that periodically writes the state of every
// group to the listener's log: its id, whether it is ready, and its members
// with the seconds left until each expires (and its port and weight when it
// announced them). It is meant for watching a
// listener by eye and for debugging agents, so it logs at info level, one
// line per group per interval; the interval is the operator's choice of
// volume, which is why it has no default.
package log

import (
	"context"
	"fmt"
	"math"
	"net/netip"
	"slices"
	"strings"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the log output, served by `rgap` in plugin mode.
//
// It asks for expiry updates: the dump shows each member's time to expiry,
// which would otherwise be the one it had when it joined.
var Plugin = sdk.Plugin{Name: "log", Version: "1.0.0", New: New, ExpiryUpdates: true}

// spec is the log output's configuration.
type spec struct {
	// Interval is the time between two dumps of all groups (required,
	// positive, e.g. "60s"; no default).
	Interval time.Duration `yaml:"interval"`
}

// validate checks a decoded spec.
func (s *spec) validate(errorf sdk.ErrorfFunc) error {
	switch {
	case s.Interval == 0:
		return errorf("interval", `required: the time between two dumps, e.g. "60s"`)
	case s.Interval < 0:
		return errorf("interval", "must be positive, got %v", s.Interval)
	}
	return nil
}

// New checks the spec.
func New(cfg *sdk.Config) (sdk.Output, error) {
	var s spec
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	if err := s.validate(cfg.Errorf); err != nil {
		return nil, err
	}
	o := &output{interval: s.Interval, log: cfg.Log(), now: time.Now, ticker: realTicker}
	o.setGroups(cfg.Groups())
	return o, nil
}

// UpdateGroups takes the listener's new group list (sdk.GroupsUpdater):
// the next dump covers the groups configured now.
func (o *output) UpdateGroups(groups []sdk.GroupInfo) error {
	o.setGroups(groups)
	return nil
}

// setGroups sets the groups to dump, in ascending id order.
func (o *output) setGroups(groups []sdk.GroupInfo) {
	ids := make([]uint64, 0, len(groups))
	for _, g := range groups {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	o.groups.Store(&ids)
}

// realTicker ticks every d until stop is called.
func realTicker(d time.Duration) (ticks <-chan time.Time, stop func()) {
	t := time.NewTicker(d)
	return t.C, t.Stop
}

type output struct {
	interval time.Duration
	groups   atomic.Pointer[[]uint64] // sorted; replaced by UpdateGroups
	log      hclog.Logger
	// now and ticker are the clock; tests replace them.
	now    func() time.Time
	ticker func(time.Duration) (<-chan time.Time, func())
}

// Run dumps the groups every interval until the listener stops the plugin.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	ticks, stop := o.ticker(o.interval)
	defer stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticks:
			o.dump(env.Groups)
		}
	}
}

// dump logs one line per group.
func (o *output) dump(m *sdk.Mirror) {
	now := o.now()
	for _, id := range *o.groups.Load() {
		members := m.Members(id)
		o.log.Info("group", "id", id, "ready", m.Ready(id), "count", len(members), "members", formatMembers(members, now))
	}
}

// formatMembers writes "10.0.0.1 (13s), 10.0.0.2 (4s)": each address with
// the whole seconds until it expires (rounded up, never negative). A member
// that announced a port is written address:port ("10.0.0.3:8080",
// "[2001:db8::1]:8080"), and one that announced a weight has it after the
// seconds ("10.0.0.3:8080 (13s, weight 5)").
func formatMembers(ms []sdk.Member, now time.Time) string {
	var b strings.Builder
	for i, m := range ms {
		if i > 0 {
			b.WriteString(", ")
		}
		if m.Port != 0 {
			b.WriteString(netip.AddrPortFrom(m.Addr, m.Port).String())
		} else {
			b.WriteString(m.Addr.String())
		}
		secs := max(0, int64(math.Ceil(m.Expires.Sub(now).Seconds())))
		if m.Weight != 0 {
			fmt.Fprintf(&b, " (%ds, weight %d)", secs, m.Weight)
		} else {
			fmt.Fprintf(&b, " (%ds)", secs)
		}
	}
	return b.String()
}
