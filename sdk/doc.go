// Package sdk is what an rgap output plugin is written with: the built-in
// outputs (noop, log, eventlog, hostsfile, dns, command, haproxy, etcd) use it
// exactly as a third party does.
//
// # Why it looks like this
//
// Every configured output runs as its own process, started by the rgap
// listener through hashicorp/go-plugin over gRPC. A crashing or hanging
// output then cannot stop ingestion or the other outputs, and it never holds
// a pre-shared key: the listener keeps the keys and the announcement
// verification, and hands plugins only the result, the live addresses of
// each group.
//
// The SDK hides that machinery. A plugin author writes a constructor that
// reads the output's configuration (Plugin.New) and a loop that does the
// work (Output.Run), and calls Serve from main. The SDK does the rest:
//
//   - It keeps a Mirror of the groups inside the plugin process, fed by a
//     stream from the listener (a full snapshot, then join/leave/ready
//     events, and a fresh snapshot whenever the plugin fell behind). Reading
//     it is a local, allocation-free operation, so a plugin can answer "who
//     is in group G" on every DNS query or file render without a round trip.
//     Handlers run before the listener is acknowledged, so a plugin that
//     stalls is noticed and restarted.
//   - It decodes the output's `spec` strictly (Config.Decode): a typo in a
//     key is an error, not a silently ignored setting, and every error names
//     the file, line and key path. The listener hands over the spec with
//     its original line numbers, so "rgap.yaml:42: mappings[0].group: ..."
//     points at the operator's real line. DecodeSpec decodes and then runs
//     the plugin's own checks, which report with Config.Errorf (of type
//     ErrorfFunc) so that they too name the line. Plugin.New must have no side
//     effects, because the listener also calls it just to validate a
//     configuration (at startup, for all outputs, before any runs).
//   - It takes care of the process: JSON logging on stderr that the
//     listener re-emits with the right level, exiting when the listener is
//     gone, exiting non-zero when Run fails so that the listener restarts
//     the plugin with backoff, and refusing to run when started by hand.
//
// Testing needs none of this: package sdk/sdktest runs a plugin in-process
// against a fake listener, through the same gRPC service code.
//
// # A complete out-of-tree plugin
//
// An out-of-tree plugin is an executable named rgap-plugin-<kind>. This one
// (also in the SDK's source tree as example/rgap-plugin-hello) logs a
// greeting for every member of one group whenever the group changes, once
// it is ready. Its main.go:
//
//	package main
//
//	import (
//		"context"
//		"errors"
//		"slices"
//
//		"github.com/rgap-project/rgap/sdk"
//	)
//
//	// spec is the output's configuration, decoded strictly from its `spec`.
//	type spec struct {
//		Group    uint64 `yaml:"group"`    // required
//		Greeting string `yaml:"greeting"` // default "Hello"
//	}
//
//	type output struct{ spec }
//
//	// New checks the spec; it has no side effects.
//	func New(cfg *sdk.Config) (sdk.Output, error) {
//		s := spec{Greeting: "Hello"}
//		if err := cfg.Decode(&s); err != nil {
//			return nil, err
//		}
//		if s.Group == 0 {
//			return nil, cfg.Errorf("group", "required: the id of the group to greet")
//		}
//		if !slices.ContainsFunc(cfg.Groups(), func(g sdk.GroupInfo) bool { return g.ID == s.Group }) {
//			return nil, cfg.Errorf("group", "group %d is not configured in the listener", s.Group)
//		}
//		cfg.Subscribe(s.Group)
//		return &output{spec: s}, nil
//	}
//
//	// Run does the work until the listener stops the plugin.
//	func (o *output) Run(ctx context.Context, env *sdk.Env) error {
//		changed := env.Groups.Changed(o.Group) // before the first look
//		if err := env.Groups.WaitReady(ctx, o.Group); err != nil {
//			if errors.Is(err, context.Canceled) {
//				return nil
//			}
//			return err
//		}
//		for {
//			for _, m := range env.Groups.Members(o.Group) {
//				env.Log.Info(o.Greeting, "group", o.Group, "address", m.Addr.String())
//			}
//			select {
//			case <-ctx.Done():
//				return nil
//			case <-changed:
//			}
//		}
//	}
//
//	func main() {
//		sdk.Serve(sdk.Plugin{Name: "hello", Version: "0.1.0", New: New})
//	}
//
// Its go.mod needs only the rgap module (the SDK's own dependencies come
// along), and its go line may not be older than the rgap module's:
//
//	module example.com/rgap-plugin-hello
//
//	go 1.26.8
//
//	require github.com/rgap-project/rgap v0.1.0 // the listener's version
//
// (run `go get github.com/rgap-project/rgap/sdk@<listener version>` to fill
// in the version and go.sum). To build against a checkout of rgap that is not
// published, point the requirement at it with a replace line and run `go mod
// tidy`:
//
//	replace github.com/rgap-project/rgap => ../rgap
//
// Build the plugin and install it in the listener's plugins directory. That
// directory is, first that is set: the listener's --plugins-dir flag, the
// RGAP_PLUGINS_DIR environment variable, the configuration's top-level
// plugins_dir, else /usr/lib/rgap/plugins. The listener refuses a plugin
// file that users other than its owner can modify, and a file in a directory
// that users other than its owner can modify (either could be replaced),
// hence the modes:
//
//	go build -o rgap-plugin-hello .
//	install -d -m 0755 /usr/lib/rgap/plugins
//	install -m 0755 rgap-plugin-hello /usr/lib/rgap/plugins/
//
// `rgap plugins` lists what the listener finds there, and why it refuses a
// file.
//
// The plugin runs in the listener's working directory, with only part of
// the listener's environment: PATH, HOME, TMPDIR, TZ, LANG, LANGUAGE and
// LC_*, plus the variables go-plugin and the SDK use for the handshake.
// Credentials or anything else exported to the listener do not reach it.
//
// and configure an output of its kind in the listener's configuration
// (optionally pinning the executable with `sha256: <hex digest>`):
//
//	outputs:
//	  - kind: hello
//	    spec:
//	      group: 1000
//	      greeting: Welcome
//
// A mistake in the spec stops the listener at startup with the plugin's
// diagnostic, e.g. "rgap.yaml:14: greting: unknown key (valid keys here:
// group, greeting)". Started by hand, the plugin explains that the
// listener starts it, and exits.
//
// # Members: address, port and weight
//
// A member of a group is an address and a port, with a weight:
//
//	type Member struct {
//		Addr    netip.Addr // plain IPv4 or IPv6, never IPv4-mapped
//		Port    uint16     // the service port the agent announced; 0 = none
//		Weight  uint16     // the agent's announced weight; 0 = none given
//		Expires time.Time
//	}
//
// Agents speaking wire protocol v1 announce no port and no weight: their
// members have Port 0 and Weight 0, one per address. A v2 agent announces
// its port (`rgap agent --protocol 2 --port 8080 --weight 10`), and two
// agents on one address with different ports are two members, so an output
// that serves addresses only (A records, a hosts file) deduplicates them,
// and one that serves services (SRV records, a load balancer's server
// list) uses one entry per member:
//
//	for _, m := range env.Groups.Members(o.Group) { // sorted by address, then port
//		if m.Port == 0 {
//			continue // announced no port: no service entry
//		}
//		weight := m.Weight
//		if weight == 0 {
//			weight = 1 // none given: the output's default
//		}
//		servers = append(servers, server{netip.AddrPortFrom(m.Addr, m.Port), weight})
//	}
//
// A member's weight may change while it stays a member: the change arrives
// as an EventExpiry carrying the member's current port and weight, so an
// output that uses weights sets Plugin.ExpiryUpdates. Mirror.Changed fires
// on a weight change too (an expiry move alone does not fire it). In tests,
// sdktest's Harness.JoinMember, UpdateMember and LeaveMember feed members
// with ports and weights.
//
// # Outputs that bind addresses
//
// An output that serves something on the network (the dns output does)
// should implement Binder on the Output that New returns, listing every
// address Run will bind:
//
//	func (o *output) Binds() []sdk.Bind {
//		return []sdk.Bind{{Network: "udp", Address: o.Listen}, {Network: "tcp", Address: o.Listen}}
//	}
//
// The listener collects these when it validates the configuration and
// refuses to start when two outputs, or an output and one of its `listen`
// entries, cannot both bind theirs: the operator gets an error naming both
// and the address instead of an output that restarts forever on "address
// already in use". An output without Binds is simply not checked.
// sdktest.Binds shows what a spec reports.
//
// # Metrics
//
// An output exports series on the listener's /metrics through Env.Metrics,
// without importing a Prometheus library:
//
//	runs, err := env.Metrics.Counter("runs_total", "Runs, by result.", "result")
//	if err != nil {
//		return err // a bad name or label
//	}
//	runs.Add(1, "success")
//
// The listener serves it as rgap_output_<kind>_runs_total{output,kind,result}.
// Counter and Gauge keep their values in atomics; CounterFunc and GaugeFunc
// export counters the output keeps anyway, read when /metrics is scraped.
// Label values must come from a small fixed set: past MaxSeries series per
// plugin, new ones are dropped (and logged once). The host asks with the
// Metrics call and a deadline of about a second, so a plugin that cannot
// answer costs its series on that scrape, nothing more. sdktest's
// Harness.Metrics shows what a plugin exports.
//
// # Protocol notes for the host
//
// Serve answers GetInfo, ValidateConfig (with the Output's binds when the
// spec is valid) and Configure at any time before the stream; Stream must begin with a complete snapshot (chunks with first
// set on the first and last on the last), and Output.Run starts when that
// snapshot is complete. Every message is acknowledged once applied and its
// handlers ran. Stop cancels Run's context and returns once Run returned.
// Metrics answers at any time (no series before Run). GetInfo lists plugin
// protocol versions 1 and 2 (see proto/rgap/output/v1/output.proto): under a
// host that predates protocol 2 the plugin works as before, its members
// without ports or weights.
package sdk
