package sdk

import (
	"context"
	"net/netip"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Plugin describes an output plugin to Serve.
type Plugin struct {
	// Name is the output kind, as written in the listener's `outputs[].kind`.
	Name string
	// Version is the plugin's own version, shown by `rgap plugins`.
	Version string
	// New builds an output from its configuration. It must not have side
	// effects (bind sockets, write files, start goroutines): the host also
	// calls it to validate a spec before anything starts. Side effects belong
	// in Output.Run.
	New func(cfg *Config) (Output, error)
	// ExpiryUpdates asks the host for EventExpiry events, so that Members
	// reports fresh expiry times (the dns output needs them for TTLs). Without
	// it, a member's Expires is the one it had when it joined or at the last
	// resync.
	ExpiryUpdates bool
	// AllCPUs lets the plugin's Go code run on every CPU (Go's default
	// GOMAXPROCS). Without it the plugin runs with GOMAXPROCS=1: an output
	// mostly waits for events, and a single scheduler thread avoids the
	// cross-CPU wake-ups that otherwise dominate its event latency and CPU
	// use (bench-propagation: join-handler p99 about 25% lower, plugin CPU
	// halved at 10k events/s on two cores), and saves memory. Set it for
	// an output that serves load of its own, such as the dns output. An
	// operator's GOMAXPROCS passed to the plugin takes precedence.
	AllCPUs bool
}

// Output is a configured output. Run does the work until ctx is cancelled
// (the host asked the plugin to stop) and then returns; returning early with
// an error makes the plugin exit, and the host restarts it.
//
// Run starts once, after the mirror received its first complete snapshot,
// so Env.Groups is already populated. Returning nil before ctx is cancelled
// is allowed (the plugin keeps serving, with nothing running).
type Output interface {
	Run(ctx context.Context, env *Env) error
}

// EventHandler may be implemented by an Output that reacts to single
// events. HandleEvent is called for every event from the very first
// snapshot on (even before Run starts), before the Mirror.OnEvent handlers
// and under the same rules: from the SDK's stream goroutine, before the host
// is acknowledged, so it must return quickly. Prefer it to calling
// Mirror.OnEvent from Run when no event may be missed: a handler registered
// in Run only sees events applied after it was registered.
type EventHandler interface {
	HandleEvent(Event)
}

// Binder may be implemented by an Output that binds network addresses (a
// server, such as the dns output). When the listener validates the spec at
// start-up, the SDK calls Binds on the Output that Plugin.New returned and
// reports the addresses; the listener refuses to start when two outputs, or
// an output and one of the listener's own `listen` sockets, cannot both
// bind theirs, naming both and the address, instead of restarting the
// output that lost the race forever. Like New, Binds must have no side
// effects. An Output that does not implement it is not checked.
type Binder interface {
	Binds() []Bind
}

// Bind is one address an output binds.
type Bind struct {
	// Network is "udp" or "tcp" (then a wildcard host covers both address
	// families, as Go's net package binds it), or "udp4", "udp6", "tcp4" or
	// "tcp6" for one family only.
	Network string
	// Address is host:port as given to net.ListenPacket or net.Listen:
	// the port a number, IPv6 hosts in brackets. An empty host, 0.0.0.0 or
	// :: is every address; port 0 (the system picks one) never clashes.
	Address string
}

// Env is what a running output gets from the SDK.
type Env struct {
	// Groups is the plugin-local mirror of the groups the output subscribed to.
	Groups *Mirror
	// Log writes structured log lines the host re-emits with their level.
	Log hclog.Logger
	// Metrics registers the series the output exports on the listener's
	// /metrics (see Metrics).
	Metrics *Metrics
}

// GroupInfo describes a configured redundancy group (never its key).
type GroupInfo struct {
	ID             uint64
	Expire         time.Duration
	ReadinessDelay time.Duration
}

// Member is one live (address, port) of a group. Agents speaking protocol
// v1 announce no port and no weight: their members have Port 0 and Weight 0.
type Member struct {
	Addr netip.Addr // IPv4 members are plain 4-byte addresses, never IPv4-mapped
	// Port is the service port the member announced; 0 means none.
	Port uint16
	// Weight is the member's announced weight; 0 means none given.
	Weight  uint16
	Expires time.Time
}

// EventKind says what happened in an Event.
type EventKind int

const (
	// EventJoin: Member appeared in Group.
	EventJoin EventKind = iota + 1
	// EventLeave: Member expired from Group, or left it.
	EventLeave
	// EventExpiry: Member's expiry moved forward, or its weight changed;
	// Member is its current state (only with Plugin.ExpiryUpdates).
	EventExpiry
	// EventReady: Group passed its readiness delay.
	EventReady
	// EventResync: the mirror was replaced by a fresh snapshot from the host.
	// Joins and leaves that the snapshot implies have already been delivered
	// as EventJoin/EventLeave just before it (and EventReady for groups it
	// shows ready for the first time), each group in ascending id order.
	// While those are delivered the mirror already holds the new snapshot.
	EventResync
)

// Event is one change seen by the mirror.
type Event struct {
	Kind   EventKind
	Group  uint64 // zero for EventResync
	Member Member // zero for EventReady and EventResync
}
