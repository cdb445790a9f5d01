// Package agent is the announcing side of rgap: it periodically sends a
// signed announcement "address Addr is alive in group Group" to each
// configured destination.
//
// Design decisions:
//
//   - One connected UDP socket per destination, opened once by New. A bad
//     destination (unknown interface, no usable source address) is reported
//     at startup, naming the destination, instead of on every tick; and a
//     connected socket reports ICMP errors (port unreachable, host
//     unreachable) on a later send, so an operator sees in the log that a
//     listener is gone rather than announcing into the void.
//   - Sending never stops the agent. A failed send is logged at warn level
//     with the destination and retried at the next tick; the other
//     destinations are unaffected. Each datagram carries a fresh timestamp,
//     so nothing is queued or resent late.
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
package agent

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"sync"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
)

// ErrClosed is returned by SendOnce after Close.
var ErrClosed = errors.New("agent: closed")

// Config describes what an Agent announces and where.
type Config struct {
	// Group is the redundancy group the address is announced in.
	Group uint64
	// Addr is the announced address; it must be a unicast address.
	Addr netip.Addr
	// Key signs the announcements; it must belong to Group's PSK.
	Key *protocol.Key
	// Interval is the time between announcements in Run; it must be
	// positive for Run, and may be zero when only SendOnce is used.
	Interval time.Duration
	// Destinations are the listeners (unicast) or groups (multicast) to
	// send to; at least one is required. See the package doc for what
	// "@iface" and "@prefix" mean here.
	Destinations []netspec.Spec
	// Logger receives send failures (warn) and recoveries (info); nil
	// discards them.
	Logger hclog.Logger
	// Clock supplies announcement timestamps; nil means time.Now.
	Clock func() time.Time
}

// Agent sends announcements. Its methods are safe for concurrent use.
type Agent struct {
	cfg   Config
	log   hclog.Logger
	clock func() time.Time
	done  chan struct{}

	mu     sync.Mutex // guards everything below
	dests  []*destination
	buf    [protocol.Size]byte
	closed bool
}

// destination is one socket and its failure streak.
type destination struct {
	spec netspec.Spec
	conn *net.UDPConn
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

// New validates cfg and opens one UDP socket per destination. Errors name
// the offending setting or destination.
func New(cfg Config) (*Agent, error) {
	switch {
	case cfg.Key == nil:
		return nil, errors.New("agent: no key to sign announcements with")
	case !cfg.Addr.IsValid():
		return nil, errors.New("agent: no address to announce")
	case cfg.Addr.IsUnspecified() || cfg.Addr.IsMulticast():
		return nil, fmt.Errorf("agent: announced address must be a unicast address, got %s", cfg.Addr)
	case cfg.Interval < 0:
		return nil, fmt.Errorf("agent: negative interval %s", cfg.Interval)
	case len(cfg.Destinations) == 0:
		return nil, errors.New("agent: no destinations")
	}
	a := &Agent{cfg: cfg, log: cfg.Logger, clock: cfg.Clock, done: make(chan struct{})}
	if a.log == nil {
		a.log = hclog.NewNullLogger()
	}
	if a.clock == nil {
		a.clock = time.Now
	}
	for _, spec := range cfg.Destinations {
		conn, err := dial(spec)
		if err != nil {
			a.Close()
			return nil, fmt.Errorf("agent: destination %q: %w", spec, err)
		}
		a.log.Debug("destination open", "destination", spec.String(), "source", conn.LocalAddr().String())
		a.dests = append(a.dests, &destination{spec: spec, conn: conn})
	}
	return a, nil
}

// dial opens the connected socket for one destination.
func dial(spec netspec.Spec) (*net.UDPConn, error) {
	dst := spec.Addr.Addr()
	switch {
	case !dst.IsValid():
		return nil, errors.New("destination needs an IP address, not just a port")
	case dst.IsUnspecified():
		return nil, fmt.Errorf("cannot send to the unspecified address %s", dst)
	case spec.Addr.Port() == 0:
		return nil, errors.New("destination port 0")
	}
	ifi, err := spec.Interface()
	if err != nil {
		return nil, err
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
		return nil, err
	}
	conn := c.(*net.UDPConn)
	if dst.IsMulticast() {
		if dst.Is4() {
			err = ipv4.NewPacketConn(conn).SetMulticastLoopback(true)
		} else {
			err = ipv6.NewPacketConn(conn).SetMulticastLoopback(true)
		}
		if err != nil {
			conn.Close()
			return nil, fmt.Errorf("enable multicast loopback: %w", err)
		}
	}
	return conn, nil
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
// destination. The returned error joins one error per failed destination,
// each naming it; the other destinations are still sent to.
func (a *Agent) SendOnce() error {
	var errs []error
	err := a.send(func(d *destination, err error) {
		if err != nil {
			errs = append(errs, fmt.Errorf("agent: send to %q: %w", d.spec, err))
		}
	})
	if err != nil {
		return err
	}
	return errors.Join(errs...)
}

// send builds one announcement and writes it to each destination, calling
// result for each with the outcome (err nil on success). It returns
// ErrClosed, sending nothing, once the Agent is closed.
func (a *Agent) send(result func(d *destination, err error)) error {
	a.mu.Lock()
	defer a.mu.Unlock()
	if a.closed {
		return ErrClosed
	}
	pkt := a.cfg.Key.Append(a.buf[:0], protocol.Announcement{
		Group:     a.cfg.Group,
		Timestamp: a.clock().UnixMicro(),
		Addr:      a.cfg.Addr,
	})
	for _, d := range a.dests {
		_, err := d.conn.Write(pkt)
		result(d, err)
	}
	return nil
}

// Run sends an announcement to every destination at once and then every
// Interval until ctx is done or the Agent is closed, and returns nil then.
// A failed send is logged at warn level with its destination and retried at
// the next tick; it never ends Run. Run fails only if Interval is not
// positive.
func (a *Agent) Run(ctx context.Context) error {
	if a.cfg.Interval <= 0 {
		return fmt.Errorf("agent: Run needs a positive interval, got %s", a.cfg.Interval)
	}
	t := time.NewTicker(a.cfg.Interval)
	defer t.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-a.done:
			return nil
		default:
		}
		if a.send(a.logResult) != nil {
			return nil // closed
		}
		select {
		case <-ctx.Done():
			return nil
		case <-a.done:
			return nil
		case <-t.C:
		}
	}
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
		if err := d.conn.Close(); err != nil {
			errs = append(errs, fmt.Errorf("agent: close %q: %w", d.spec, err))
		}
	}
	return errors.Join(errs...)
}
