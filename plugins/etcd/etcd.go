// Package etcd is the "etcd" output: it publishes the live members of
// redundancy groups to etcd, so that the rest of an infrastructure (load
// balancers on other machines, CoreDNS through its etcd plugin, programs
// that watch etcd) sees the membership one or several listeners know.
//
// It is not linked into the rgap binary: every output process re-executes
// that binary, and the etcd client's packages would cost their start-up in
// all of them. It is its own executable, rgap-plugin-etcd
// (cmd/rgap-plugin-etcd), found in the plugins directory like any
// out-of-tree plugin, and written against the SDK only.
//
// Design decisions:
//
//   - Every key is attached to one lease per output process, kept alive by
//     the client. A listener that dies takes its keys with it within
//     lease_ttl; one that stops revokes the lease, and they vanish at once.
//   - Joins and leaves are queued as puts and deletes (the latest per key
//     wins) by the event handler, which never waits for etcd; one worker sends
//     them in transactions of up to 128 operations, so that a burst costs few
//     requests.
//   - A full reconcile (read this instance's keys, put what is missing or
//     stale, delete what is not live) runs on start, after every failure, when
//     a group becomes ready and after a resync. Failures therefore need no
//     bookkeeping: what was pending is rebuilt from the mirror.
//   - Several listeners write side by side: every key carries the instance,
//     and a reconcile only ever touches its own instance's keys.
package etcd

import (
	"context"
	"slices"
	"sync"

	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the "etcd" output, ready for sdk.Serve. It asks for expiry
// updates because the host delivers a live member's new weight only as one;
// the publisher writes a key again only when its weight changed.
var Plugin = sdk.Plugin{Name: "etcd", Version: "1.0.0", New: New, ExpiryUpdates: true}

// New decodes and validates the spec and subscribes to the published
// groups. It reads no file and opens no connection.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s, err := sdk.DecodeSpec(cfg, (*spec).validateHere)
	if err != nil {
		return nil, err
	}
	o := &output{settings: s}
	if s.allGroups {
		o.groups = groupIDs(cfg.Groups())
	} else {
		o.groups = s.groups
		cfg.Subscribe(s.groups...)
	}
	return o, nil
}

// output is a configured etcd publisher.
type output struct {
	settings *settings

	mu     sync.Mutex // UpdateGroups runs on the SDK's stream goroutine
	groups []uint64
	pub    *publisher // set by Run
}

// UpdateGroups takes the listener's new group list after a reload (it
// matters only when every group is published).
func (o *output) UpdateGroups(groups []sdk.GroupInfo) error {
	if !o.settings.allGroups {
		return nil
	}
	ids := groupIDs(groups)
	o.mu.Lock()
	defer o.mu.Unlock()
	if o.pub != nil {
		o.pub.setGroups(ids)
	} else {
		o.groups = ids
	}
	return nil
}

// Run publishes until ctx ends.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	o.mu.Lock()
	p := newPublisher(o.settings, o.groups, env.Groups, env.Log)
	o.pub = p
	o.mu.Unlock()
	if err := p.registerMetrics(env.Metrics); err != nil {
		return err
	}
	return p.run(ctx)
}

func groupIDs(gs []sdk.GroupInfo) []uint64 {
	ids := make([]uint64, 0, len(gs))
	for _, g := range gs {
		ids = append(ids, g.ID)
	}
	slices.Sort(ids)
	return ids
}

// registerMetrics exports the publisher's counters.
func (p *publisher) registerMetrics(m *sdk.Metrics) error {
	counter := func(name, help, label string, series map[string]func() uint64) error {
		return m.CounterFunc(name, help, []string{label}, func(emit func(float64, ...string)) {
			for v, read := range series {
				emit(float64(read()), v)
			}
		})
	}
	if err := counter("requests_total", "Requests sent to etcd, by kind (keep-alives not counted).", "request", map[string]func() uint64{
		"txn": p.txns.Load, "range": p.ranges.Load, "grant": p.grants.Load, "revoke": p.revokes.Load,
	}); err != nil {
		return err
	}
	if err := counter("keys_written_total", "Keys put or deleted in etcd.", "op", map[string]func() uint64{
		"put": p.puts.Load, "delete": p.deletes.Load,
	}); err != nil {
		return err
	}
	if err := counter("failures_total", "Failed attempts to reach or write etcd, by reason.", "reason", map[string]func() uint64{
		"unreachable": p.unreachable.Load, "refused": p.refused.Load,
	}); err != nil {
		return err
	}
	if err := m.CounterFunc("reconciles_total", "Full reconciles of this instance's keys with the mirror.", nil,
		func(emit func(float64, ...string)) { emit(float64(p.reconciles.Load())) }); err != nil {
		return err
	}
	return m.GaugeFunc("connected", "1 while the last exchange with etcd succeeded.", nil,
		func(emit func(float64, ...string)) {
			v := 0.0
			if p.connected.Load() {
				v = 1
			}
			emit(v)
		})
}
