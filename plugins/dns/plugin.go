// Package dns is the rgap output that answers DNS queries for configured
// names with the live addresses of a redundancy group.
//
// A load balancer (HAProxy's resolvers, nginx's resolver) points at this
// server and re-resolves a name every few seconds; each answer is the group's
// current member set, so backends whose IPs change are picked up without a
// reload. The design follows from that use:
//
//   - Answers come from the plugin's local group mirror (sdk.Mirror), never
//     from a round trip to the core, and the per-query path avoids
//     allocations and locks: names are lowercased once at configuration time
//     and looked up in a plain map, and the response message, its records and
//     its wire buffer are reused through a sync.Pool.
//   - A record's TTL is the whole number of seconds until that member
//     expires, so a resolver never caches an address past the moment rgap
//     would drop it. Fallback addresses (used while a group is empty) carry
//     TTL 0: the resolver asks again next time and sees the group recover.
//   - A group that has not passed its readiness delay answers SERVFAIL rather
//     than a partial set: resolvers such as HAProxy's keep their last good
//     answer on SERVFAIL, which is what we want while the membership is still
//     being learnt after a restart.
//   - Names that are not configured answer REFUSED: this server is
//     authoritative for a list of exact names, not for any zone, so it must
//     not claim a name does not exist (NXDOMAIN could be cached negatively
//     for the whole parent by a resolver that forwards here by mistake).
//   - Over UDP an answer is cut to the client's advertised EDNS0 size (512
//     bytes without EDNS0, at most 4096) by choosing a random subset of the
//     members, and the TC bit is NOT set: HAProxy does not retry over TCP on
//     TC, and a random subset spread over successive queries is exactly what
//     a load balancer needs. TCP always carries the full set (up to the
//     65535-byte message limit).
//   - Members with a port (protocol v2) also answer SRV queries for
//     _SERVICE._PROTO.NAME, with the members' address records in the
//     additional section under a target name per address (srv.go). Weights
//     are multiples of 256 so that HAProxy, which divides SRV weights by 256,
//     keeps the members' ratios. A and AAAA answers hold each address once,
//     however many ports it serves on.
//
// The README beside this file documents every configuration key.
package dns

import (
	"context"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the dns output, to be passed to sdk.Serve.
var Plugin = sdk.Plugin{
	Name:          "dns",
	Version:       "1.0.0",
	New:           New,
	ExpiryUpdates: true, // TTLs are computed from each member's current expiry
	AllCPUs:       true, // it serves queries, not just events
}

// New decodes and validates a dns output spec. It binds no socket: the
// server starts in Run.
func New(cfg *sdk.Config) (sdk.Output, error) {
	set, err := sdk.DecodeSpec(cfg, (*spec).validate)
	if err != nil {
		return nil, err
	}
	cfg.Subscribe(set.groupIDs...)
	return &output{settings: set}, nil
}

// output is a configured dns output.
type output struct {
	settings *settings
}

// Binds reports the UDP and TCP sockets Run will bind (sdk.Binder), so that
// the listener refuses to start when another output or one of its listen
// entries holds the same address.
func (o *output) Binds() []sdk.Bind {
	return []sdk.Bind{{Network: "udp", Address: o.settings.bind}, {Network: "tcp", Address: o.settings.bind}}
}

// Run serves DNS on the configured address until ctx ends.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	r := newResponder(o.settings, env.Groups, env.Log)
	if err := r.stats.export(env.Metrics); err != nil {
		return err
	}
	return serve(ctx, o.settings.bind, r, env.Log, nil, statsInterval)
}

// statsInterval is how often Run logs its query counters (at debug level,
// and only when they changed).
const statsInterval = time.Minute
