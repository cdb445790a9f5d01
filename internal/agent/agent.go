// Package agent is the announcing side of rgap: it periodically sends a
// signed announcement "address Addr is alive in group Group" to each
// configured destination.
//
// Design decisions:
//
//   - One connected UDP socket per destination. A connected socket reports
//     ICMP errors (port unreachable, host unreachable) on a later send, so an
//     operator sees in the log that a listener is gone rather than
//     announcing into the void.
//   - New refuses only what is wrong whatever the network looks like: the
//     announced address (protocol.CheckAddress), the interval, a destination
//     without an address or port. Everything that depends on the network's
//     current state (a route, an interface named by "@iface", an address in
//     "@prefix") is tried at each send: a destination whose socket cannot
//     be opened yet is opened again at every tick, so an agent started before
//     the network is up, or with one of several destinations unreachable,
//     starts and announces to the others meanwhile.
//   - Sending never stops the agent. A failed send (or open) is logged at
//     warn level with the destination, once per streak of failures, and
//     retried at the next tick; the other destinations are unaffected. Each
//     datagram carries a fresh timestamp, so nothing is queued or resent
//     late.
//   - The announcement is built into a buffer owned by the Agent, so a tick
//     allocates nothing.
//   - "@iface" / "@IP/prefixlen" on a destination:
//     for a multicast group it selects the interface the datagrams leave
//     through (IP_MULTICAST_IF / IPV6_MULTICAST_IF), set before the socket
//     is connected because Linux fixes a connected socket's route then
//     (without it, Linux sends out of the interface owning the source
//     address it picked for the group's route);
//     for a unicast destination it binds the socket's source address to
//     that interface's first address of the destination's family (inside
//     the prefix, when one was given). The kernel still picks the outgoing
//     interface from the routing table; binding the source address decides
//     which address the datagrams come from, which is what source-based
//     routing rules and firewalls match on.
//   - Multicast datagrams use the system's default TTL / hop limit (1, so
//     they stay on the local link) and have loopback enabled, so a listener
//     on the same host receives them.
//   - Protocol v1 is the default, so an agent talks to an original listener;
//     v2 (Config.Version) adds the key id, port, weight and leave. New
//     refuses v2-only settings with v1 rather than silently dropping them.
//   - Timestamps never repeat nor go back within one Agent (each is
//     max(clock, previous+1µs)): listeners drop a datagram not newer than
//     the last one of its member as a replay, so a wall clock stepped back
//     must not silence the agent.
//   - Leave: when Run's context ends, a v2 agent sends a signed leave with
//     a newer timestamp to every destination, three copies 5ms apart
//     against loss, so listeners drop it at once rather than at expiry.
//     Close does not: it is also the error path.
//   - Jitter: each wait between announcements is the interval ±10%,
//     uniformly random, so a fleet restarted together spreads out.
//   - Drain: while Config.DrainFile exists, or the switch ToggleDrain flips
//     is on, Run does not announce; a v2 agent sends a leave on the way in,
//     and the way out announces at once. The file is looked at on every
//     tick and at least every 250ms; each transition is logged once at info
//     level with the reason.
//   - Health: with Config.Health, Run runs its checks and treats
//     "unhealthy" exactly like drain (leave on the way in, silence, announce
//     at once on the way out). The monitor starts unhealthy unless told
//     otherwise, so a v2 agent whose service is not up yet sends a leave at
//     start, which also removes a member a previous run left behind.
package agent

import (
	"errors"
	"fmt"
	"math/rand/v2"
	"net"
	"net/netip"
	"sync"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/rgap-project/rgap/internal/agent/health"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// ErrClosed is returned by SendOnce after Close.
var ErrClosed = errors.New("agent closed")

// MinInterval is the shortest interval between announcements New accepts.
// Shorter ones only load the listeners: an announcement stays valid for the
// group's expire time, which is seconds, not milliseconds.
const MinInterval = 10 * time.Millisecond

// Config describes what an Agent announces and where.
type Config struct {
	// Group is the redundancy group the address is announced in.
	Group uint64
	// Addr is the announced address; it must be a unicast host address
	// (see protocol.CheckAddress).
	Addr netip.Addr
	// Key signs the announcements; it must belong to Group's PSK.
	Key *protocol.Key
	// Interval is the time between announcements in Run; it must be at
	// least MinInterval for Run, and may be zero when only SendOnce is
	// used.
	Interval time.Duration
	// Destinations are the listeners (unicast) or groups (multicast) to
	// send to; at least one is required. See the package doc for what
	// "@iface" and "@prefix" mean here.
	Destinations []netspec.Spec
	// Logger receives send failures (warn) and recoveries (info); nil
	// discards them.
	Logger hclog.Logger
	// Clock supplies announcement timestamps; nil means time.Now. The
	// timestamps sent never repeat nor go back, whatever Clock returns: a
	// datagram carries max(Clock, previous+1µs).
	Clock func() time.Time

	// Version is the wire version: protocol.Version (v1, also the zero
	// value) or protocol.VersionV2.
	Version uint16
	// KeyID, Port and Weight are sent in v2 datagrams (see
	// protocol.Announcement); New refuses a non-zero one with v1.
	KeyID  uint8
	Port   uint16
	Weight uint16
	// DrainFile, if set, is a path whose existence drains the agent: Run
	// does not announce while it exists (see the package doc).
	DrainFile string
	// Health, if set, gates announcing: Run runs it and treats an
	// unhealthy state like drain (see the package doc).
	Health *health.Monitor
	// Rand returns a uniformly random number in [0, 1) for the interval's
	// jitter; nil means math/rand/v2's Float64.
	Rand func() float64
}

// Agent sends announcements. Its methods are safe for concurrent use.
type Agent struct {
	cfg   Config
	log   hclog.Logger
	clock func() time.Time
	done  chan struct{}

	// toggle is poked by ToggleDrain; manualDrain is the state it flips.
	toggle      chan struct{}
	manualDrain atomic.Bool

	mu     sync.Mutex // guards everything below
	dests  []*destination
	buf    [protocol.SizeV2]byte
	last   int64 // timestamp of the latest datagram, µs since the epoch
	closed bool
}

// destination is one socket and its failure streak.
type destination struct {
	spec netspec.Spec
	conn *net.UDPConn // nil until opened; opened again at each send until then
	// Log state: failing is set by the first failed send of a streak
	// (logged at warn), failed counts the sends lost since, and okStreak the
	// successes since the last failure.
	failing  bool
	failed   int
	okStreak int
}

// recoverAfter is how many consecutive successful sends mark a failing
// destination as reachable again. One is not enough: on a connected UDP
// socket an ICMP port-unreachable is reported by the send after the one that
// caused it, so a destination with nothing listening alternates between
// success and failure.
const recoverAfter = 3

// New validates cfg and prepares one UDP socket per destination. It fails
// only for a configuration that can never work, naming the offending
// setting or destination; a destination the network cannot reach yet is
// opened by the first send that can (see the package doc).
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.Key == nil:
		return nil, errors.New("no key to sign announcements with")
	case !cfg.Addr.IsValid():
		return nil, errors.New("no address to announce")
	case cfg.Interval < 0:
		return nil, fmt.Errorf("negative interval %s", cfg.Interval)
	case cfg.Interval > 0 && cfg.Interval < MinInterval:
		return nil, fmt.Errorf("interval %s is below the minimum of %s", cfg.Interval, MinInterval)
	case len(cfg.Destinations) == 0:
		return nil, errors.New("no destinations")
	}
	if err := protocol.CheckAddress(cfg.Addr); err != nil {
		return nil, fmt.Errorf("cannot announce %s: %w", cfg.Addr, err)
	}
	if err := checkVersion(&cfg); err != nil {
		return nil, err
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, done: make(chan struct{}), toggle: make(chan struct{}, 1)}
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	if a.cfg.Rand == nil {
		a.cfg.Rand = rand.Float64
	}
	for _, spec := range cfg.Destinations {
		if err := checkDestination(spec); err != nil {
			_ = a.Close()
			return nil, fmt.Errorf("destination %q: %w", spec, err)
		}
		d := &destination{spec: spec}
		if err := a.open(d); err != nil {
			// Reported by the first send, which tries again.
			a.log.Debug("destination not open yet", "destination", spec.String(), "error", err)
		}
		a.dests = append(a.dests, d)
	}
	return a, nil
}

// checkDestination refuses a destination no network state can make usable.
func checkDestination(spec netspec.Spec) error {
	dst := spec.Addr.Addr()
	switch {
	case !dst.IsValid():
		return errors.New("needs an IP address, not just a port")
	case dst.IsUnspecified():
		return fmt.Errorf("cannot send to the unspecified address %s", dst)
	case spec.Addr.Port() == 0:
		return errors.New("port 0 cannot be sent to")
	case dst.Is6() && dst.Zone() == "" && needsScope(dst) && spec.Iface == "" && !spec.Prefix.IsValid():
		return fmt.Errorf("link-local destination %s needs an interface: add @iface", dst)
	}
	return nil
}

// open opens d's socket unless it is open.
func (a *Agent) open(d *destination) error {
	if d.conn != nil {
		return nil
	}
	conn, err := dial(d.spec)
	if err != nil {
		return err
	}
	d.conn = conn
	a.log.Debug("destination open", "destination", d.spec.String(), "source", conn.LocalAddr().String())
	return nil
}

// dial opens the connected socket for one destination that passed
// checkDestination. Its errors do not repeat the destination: callers name
// it (an error from netspec's interface lookup quotes the spec already).
func dial(spec netspec.Spec) (*net.UDPConn, error) {
	dst := spec.Addr.Addr()
	ifi, err := spec.Interface()
	if err != nil {
		return nil, namesDestination{err}
	}
	raddr := net.UDPAddrFromAddrPort(spec.Addr)
	if dst.Is6() && raddr.Zone == "" && needsScope(dst) {
		if ifi == nil {
			return nil, fmt.Errorf("link-local destination %s needs an interface: add @iface", dst)
		}
		raddr.Zone = ifi.Name
	}
	network := "udp4"
	if dst.Is6() {
		network = "udp6"
	}

	var d net.Dialer
	if ifi != nil {
		if dst.IsMulticast() {
			d.Control = func(_, _ string, rc syscall.RawConn) error {
				var optErr error
				if err := rc.Control(func(fd uintptr) { optErr = setMulticastInterface(fd, dst.Is4(), ifi) }); err != nil {
					return err
				}
				return optErr
			}
		} else {
			src, err := sourceAddr(spec, ifi)
			if err != nil {
				return nil, err
			}
			d.LocalAddr = net.UDPAddrFromAddrPort(netip.AddrPortFrom(src, 0))
		}
	}
	c, err := d.Dial(network, raddr.String())
	if err != nil {
		return nil, opCause(err)
	}
	conn := c.(*net.UDPConn)
	if dst.IsMulticast() {
		if dst.Is4() {
			err = ipv4.NewPacketConn(conn).SetMulticastLoopback(true)
		} else {
			err = ipv6.NewPacketConn(conn).SetMulticastLoopback(true)
		}
		if err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("enable multicast loopback: %w", err)
		}
	}
	return conn, nil
}

// namesDestination marks an error whose text names the destination already.
type namesDestination struct{ error }

func (e namesDestination) Unwrap() error { return e.error }

// destError names spec in err unless err does so already.
func destError(spec netspec.Spec, err error) error {
	if _, ok := err.(namesDestination); ok {
		return err
	}
	return fmt.Errorf("destination %q: %w", spec, err)
}

// opCause strips a *net.OpError down to its cause ("connect: network is
// unreachable", "write: connection refused"): its own text repeats the
// addresses, and the callers name the destination already.
func opCause(err error) error {
	var op *net.OpError
	if errors.As(err, &op) && op.Err != nil {
		return op.Err
	}
	return err
}

// needsScope reports whether an IPv6 destination is only meaningful
// together with an interface.
func needsScope(ip netip.Addr) bool {
	return ip.IsLinkLocalUnicast() || ip.IsLinkLocalMulticast() || ip.IsInterfaceLocalMulticast()
}

// sourceAddr picks the address of ifi to send from to spec's (unicast)
// destination: the first of the destination's family, inside spec.Prefix
// when set, preferring one whose link-local scope matches the destination's.
func sourceAddr(spec netspec.Spec, ifi *net.Interface) (netip.Addr, error) {
	addrs, err := ifi.Addrs()
	if err != nil {
		return netip.Addr{}, fmt.Errorf("addresses of interface %q: %w", ifi.Name, err)
	}
	dst := spec.Addr.Addr()
	var fallback netip.Addr
	for _, a := range addrs {
		ip, ok := netspec.AddrOf(a)
		if !ok || ip.Is4() != dst.Is4() || (spec.Prefix.IsValid() && !spec.Prefix.Contains(ip)) {
			continue
		}
		if ip.IsLinkLocalUnicast() {
			ip = ip.WithZone(ifi.Name)
		}
		if ip.IsLinkLocalUnicast() == dst.IsLinkLocalUnicast() {
			return ip, nil
		}
		if !fallback.IsValid() {
			fallback = ip
		}
	}
	if fallback.IsValid() {
		return fallback, nil
	}
	family := "IPv4"
	if dst.Is6() {
		family = "IPv6"
	}
	if spec.Prefix.IsValid() {
		return netip.Addr{}, fmt.Errorf("interface %q has no %s address in %s to send from", ifi.Name, family, spec.Prefix)
	}
	return netip.Addr{}, fmt.Errorf("interface %q has no %s address to send from", ifi.Name, family)
}

// SendOnce sends one announcement, stamped with the current time, to every
// destination, first opening the sockets not open yet. The returned error
// joins one error per destination that could not be opened or sent to,
// each naming it; the other destinations are still sent to.
func (a *Agent) SendOnce() error {
	var errs []error
	err := a.send(func(d *destination, err error) {
		if err != nil {
			errs = append(errs, destError(d.spec, err))
		}
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// send builds one announcement and writes it to each destination, opening
// the sockets not open yet, and calls result for each with the outcome (err
// nil on success). It returns ErrClosed, sending nothing, once the Agent is
// closed.
func (a *Agent) send(result func(d *destination, err error)) error {
	return a.sendDatagram(false, result)
}

// sendDatagram is send for an announcement (leave false) or a leave.
func (a *Agent) sendDatagram(leave bool, result func(d *destination, err error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	a.last = nextTimestamp(a.clock().UnixMicro(), a.last)
	ann := protocol.Announcement{
		Version:   a.cfg.Version,
		Group:     a.cfg.Group,
		Timestamp: a.last,
		Addr:      a.cfg.Addr,
	}
	if ann.Version == protocol.VersionV2 {
		ann.Leave, ann.KeyID, ann.Port, ann.Weight = leave, a.cfg.KeyID, a.cfg.Port, a.cfg.Weight
	}
	pkt := a.cfg.Key.Append(a.buf[:0], ann)
	for _, d := range a.dests {
		err := a.open(d)
		if err == nil {
			_, err = d.conn.Write(pkt)
			err = opCause(err)
		}
		result(d, err)
	}
	return nil
}

// logResult logs the first failed send of a streak at warn level (later
// ones at debug, so a dead destination does not flood the log), and the
// recovery at info level once recoverAfter sends in a row succeeded.
func (a *Agent) logResult(d *destination, err error) {
	if err != nil {
		d.failed++
		d.okStreak = 0
		if !d.failing {
			d.failing = true
			a.log.Warn("announcement not sent, retrying at every interval",
				"destination", d.spec.String(), "error", err)
		} else if a.log.IsDebug() {
			a.log.Debug("announcement not sent", "destination", d.spec.String(), "error", err, "failed_sends", d.failed)
		}
		return
	}
	if d.failing {
		d.okStreak++
		if d.okStreak >= recoverAfter {
			a.log.Info("announcements reach destination again",
				"destination", d.spec.String(), "failed_sends", d.failed)
			d.failing, d.failed, d.okStreak = false, 0, 0
		}
	}
	if a.log.IsTrace() {
		a.log.Trace("announcement sent", "destination", d.spec.String())
	}
}

// Close closes every socket and stops Run. Further SendOnce calls return
// ErrClosed. Close is idempotent.
func (a *Agent) Close() error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return nil
	}
	a.closed = true
	close(a.done)
	var errs []error
	for _, d := range a.dests {
		if d.conn == nil {
			continue
		}
		if err := d.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("close destination %q: %w", d.spec, err))
		}
	}
	return errors.Join(errs...)
}
