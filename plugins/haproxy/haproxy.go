// Package haproxy is the "haproxy" output: it pushes the live members of
// redundancy groups into HAProxy backends through HAProxy's Runtime API (its
// admin stats socket), so HAProxy routes to a new member as soon as it is
// announced instead of at its next DNS resolution.
//
// Design decisions:
//
//   - One command per connection, in HAProxy's non-interactive mode: HAProxy
//     answers and closes, so an answer is delimited without guessing, a
//     reload or restart of HAProxy never leaves a half-read stream, and there
//     is no connection to keep alive. On a unix socket a connection costs
//     tens of microseconds.
//   - The output keeps a view of the servers it owns in each mapped backend:
//     read with `show servers state` on start, after HAProxy was unreachable
//     and every reconcile_interval, and updated by every command HAProxy
//     accepts. A membership change is planned against that view and sent at
//     once; the periodic read catches what changed behind the output's back
//     (a reload or restart of HAProxy loses runtime changes, an operator's
//     command). Planning is a pure function of the members and the view,
//     which the tests drive directly.
//   - Only servers the output owns are ever touched: in slots mode the
//     server-template's servers (PREFIX followed by a number), in dynamic
//     mode the servers named PREFIX_ADDRESS_PORT.
//   - Nothing is changed in a backend until its group is ready: right after
//     a listener start a group looks empty only because announcements have
//     not arrived yet.
//   - HAProxy unreachable is expected (it restarts, it starts after the
//     listener): the output retries with backoff and logs once per streak.
//     An answer that reports an error is logged with the command and the
//     answer, once per streak of the same error.
package haproxy

import (
	"context"
	"fmt"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the "haproxy" output, ready for sdk.Serve. It asks for expiry
// updates because the host delivers a live member's new weight only as one;
// Mirror.Changed does not fire for an expiry move alone, so they cost no
// command.
var Plugin = sdk.Plugin{Name: "haproxy", Version: "1.0.0", New: New, ExpiryUpdates: true}

// Backoff of the reconnection attempts while HAProxy is unreachable.
const (
	minBackoff = 100 * time.Millisecond
	maxBackoff = 5 * time.Second
)

// New decodes and validates the spec and subscribes to the mapped groups.
// It opens no socket: HAProxy is only contacted by Run.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s, err := sdk.DecodeSpec(cfg, (*spec).validate)
	if err != nil {
		return nil, err
	}
	cfg.Subscribe(s.groups()...)
	return &output{settings: s}, nil
}

// output is a configured haproxy output.
type output struct {
	settings *settings
	api      runtimeAPI
	backends []*backendState
	// metrics; nil-safe wrappers below, so tests may run without them.
	commands        *sdk.Counter // {result}
	connectFailures *sdk.Counter
	waitingGauge    *sdk.Gauge
	waits           *sdk.Counter
}

// backendState is what the output knows of one mapping's backend.
type backendState struct {
	m       *mapping
	servers []server // the servers the output owns, as HAProxy has them
	known   bool     // servers reflects a read; false: read before planning
	slots   *slotTable
	waiting int    // targets without a slot at the last plan
	lastErr string // the error last logged, so a streak is logged once
}

// groupSource is the part of *sdk.Mirror the output reads; tests provide a
// fake.
type groupSource interface {
	Members(group uint64) []sdk.Member
	Ready(group uint64) bool
	Changed(groups ...uint64) <-chan struct{}
}

// Run keeps the mapped backends filled with the groups' members until ctx
// ends.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	var err error
	if o.commands, err = env.Metrics.Counter("commands_total", "Runtime API commands sent to HAProxy, by result (ok, error).", "result"); err != nil {
		return err
	}
	if o.connectFailures, err = env.Metrics.Counter("connect_failures_total", "Attempts to reach HAProxy's Runtime API that failed."); err != nil {
		return err
	}
	if o.waitingGauge, err = env.Metrics.Gauge("members_waiting", "Members without a free server-template slot (slots mode)."); err != nil {
		return err
	}
	if o.waits, err = env.Metrics.Counter("member_waits_total", "Times a member found no free slot and had to wait (slots mode)."); err != nil {
		return err
	}
	o.commands.Add(0, "ok")
	o.commands.Add(0, "error")
	o.waitingGauge.Set(0)
	return o.run(ctx, env.Groups, env.Log)
}

func (o *output) run(ctx context.Context, groups groupSource, log hclog.Logger) error {
	o.api = runtimeAPI{network: o.settings.network, address: o.settings.address}
	o.backends = o.backends[:0]
	for i := range o.settings.mappings {
		o.backends = append(o.backends, &backendState{m: &o.settings.mappings[i], slots: newSlotTable()})
	}
	changed := groups.Changed(o.settings.groups()...) // before the first look
	tick := time.NewTicker(o.settings.interval)
	defer tick.Stop()

	reason := "start"
	var downSince time.Time
	backoff := time.Duration(0)
	for {
		select { // the sync below sees every change signalled so far
		case <-changed:
		default:
		}
		err := o.sync(ctx, groups, log, reason)
		if ctx.Err() != nil {
			return nil
		}
		var retry <-chan time.Time
		changedC, tickC := changed, tick.C
		if err != nil {
			o.count(o.connectFailures, 1)
			if downSince.IsZero() {
				downSince = time.Now()
				backoff = minBackoff
				log.Warn("cannot reach HAProxy, retrying with backoff", "socket", o.settings.address, "error", err)
			} else {
				backoff = min(2*backoff, maxBackoff)
				log.Debug("HAProxy still unreachable", "socket", o.settings.address, "error", err, "retry_in", backoff)
			}
			retry = time.After(backoff)
			changedC, tickC = nil, nil // the retry's sync sees every change anyway
			reason = "reconnect"
		} else {
			if !downSince.IsZero() {
				log.Info("HAProxy reachable again", "socket", o.settings.address,
					"unreachable_for", time.Since(downSince).Round(time.Millisecond).String())
				downSince = time.Time{}
			}
			reason = ""
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changedC:
		case <-tickC:
			reason = "interval"
		case <-retry:
		}
	}
}

// sync brings every ready mapping's backend in line with its group. With a
// reason (start, reconnect, interval), every backend is read first;
// otherwise only those whose state is not known. It returns an error only
// when HAProxy could not be reached; everything else is logged.
func (o *output) sync(ctx context.Context, groups groupSource, log hclog.Logger, reason string) error {
	defer func() {
		if o.waitingGauge != nil {
			total := 0
			for _, b := range o.backends {
				total += b.waiting
			}
			o.waitingGauge.Set(float64(total))
		}
	}()
	for _, b := range o.backends {
		if !groups.Ready(b.m.group) {
			continue
		}
		read := reason != "" || !b.known
		if read {
			if err := o.read(ctx, b, log); err != nil {
				return err
			}
			if !b.known {
				continue // logged by read
			}
		}
		want := targets(b.m, groups.Members(b.m.group))
		var cmds []command
		if b.m.dynamic {
			cmds = planDynamic(b.m, want, b.servers)
		} else {
			var waiting int
			cmds, waiting = b.slots.planSlots(b.m, want, b.servers)
			o.noteWaiting(b, waiting, log)
		}
		if read && len(cmds) > 0 && reason != "" {
			log.Info("correcting backend", "backend", b.m.backend, "group", b.m.group, "commands", len(cmds), "after", reason)
		}
		failed := false
		for _, c := range cmds {
			ok, err := o.send(ctx, b, c, log)
			if err != nil {
				b.known = false
				return err
			}
			failed = failed || !ok
		}
		if !failed {
			b.lastErr = ""
		}
	}
	return nil
}

// read replaces b's view with the backend's servers as HAProxy reports them.
// A connection failure is returned; an answer that cannot be used is logged
// and leaves b unknown.
func (o *output) read(ctx context.Context, b *backendState, log hclog.Logger) error {
	c := command{op: opShowState, backend: b.m.backend}
	answer, err := o.api.exec(ctx, c.String())
	if err != nil {
		b.known = false
		return err
	}
	all, perr := parseServersState(answer, b.m.backend)
	if perr != nil {
		b.known = false
		o.count(o.commands, 1, "error")
		o.problem(b, log, "cannot read the backend's servers", "command", c.String(), "answer", firstLine(answer), "error", perr.Error())
		return nil
	}
	o.count(o.commands, 1, "ok")
	b.servers = b.servers[:0]
	for _, s := range all {
		if (b.m.dynamic && isDynamic(b.m.prefix, s.name)) || (!b.m.dynamic && isSlot(b.m.prefix, s.name)) {
			b.servers = append(b.servers, s)
		}
	}
	b.known = true
	return nil
}

// send runs one command and records its effect on b's view. It reports
// whether HAProxy accepted it; the error is a connection failure.
func (o *output) send(ctx context.Context, b *backendState, c command, log hclog.Logger) (bool, error) {
	cmd := c.String()
	answer, err := o.api.exec(ctx, cmd)
	if err != nil {
		return false, err
	}
	switch {
	case c.ok(answer):
		o.count(o.commands, 1, "ok")
		log.Debug("HAProxy command", "command", cmd, "answer", firstLine(answer))
		b.applied(c)
		return true, nil
	case c.busy(answer):
		o.count(o.commands, 1, "ok")
		log.Debug("server still has connections, deleting it later", "command", cmd, "answer", firstLine(answer))
		return true, nil
	}
	o.count(o.commands, 1, "error")
	o.problem(b, log, "HAProxy refused a command", "command", cmd, "answer", firstLine(answer))
	b.known = false // read the backend again before the next plan
	return false, nil
}

// applied records an accepted command in b's view.
func (b *backendState) applied(c command) {
	switch c.op {
	case opAdd:
		w := c.weight
		if w < 0 {
			w = 1 // HAProxy's default
		}
		b.servers = append(b.servers, server{name: c.server, addr: c.addr.String(), port: c.port, admin: adminForcedMaint, weight: w, iweight: w})
	case opDel:
		for i := range b.servers {
			if b.servers[i].name == c.server {
				b.servers = append(b.servers[:i], b.servers[i+1:]...)
				break
			}
		}
	default:
		for i := range b.servers {
			if b.servers[i].name == c.server {
				c.apply(&b.servers[i])
			}
		}
	}
}

// problem logs an error about b at error level the first time in a streak,
// at debug level while it repeats.
func (o *output) problem(b *backendState, log hclog.Logger, msg string, kv ...any) {
	kv = append([]any{"backend", b.m.backend, "group", b.m.group}, kv...)
	key := msg + fmt.Sprint(kv...)
	if key == b.lastErr {
		log.Debug(msg, kv...)
		return
	}
	b.lastErr = key
	log.Error(msg, kv...)
}

// noteWaiting logs and counts a change in the number of members of b
// without a slot.
func (o *output) noteWaiting(b *backendState, waiting int, log hclog.Logger) {
	if waiting == b.waiting {
		return
	}
	if waiting > b.waiting {
		o.count(o.waits, float64(waiting-b.waiting))
	}
	if waiting > 0 {
		log.Warn("more members than server-template slots: the extra members wait for a free slot",
			"backend", b.m.backend, "group", b.m.group, "slots", len(b.servers), "waiting", waiting)
	} else {
		log.Info("every member has a slot again", "backend", b.m.backend, "group", b.m.group, "slots", len(b.servers))
	}
	b.waiting = waiting
}

// count adds v to a counter that may be nil (tests that call run
// directly).
func (o *output) count(c *sdk.Counter, v float64, labels ...string) {
	if c != nil {
		c.Add(v, labels...)
	}
}
