// Package source opens the listener's UDP receive sockets and reads
// announcement datagrams from them in batches.
//
// Design decisions:
//
//   - Batches. Announcements are tiny (66 bytes) and may arrive from
//     thousands of agents; one system call per datagram would dominate the
//     cost. On Linux a Conn reads up to Options.BatchSize datagrams per
//     recvmmsg(2) call and hands them to the caller as one slice.
//   - No allocation per batch. Buffers, iovecs and message headers are
//     allocated once in Listen and reused. On Linux recvmmsg is called
//     directly (through syscall.RawConn, so the Go poller still does the
//     waiting) with no source-address buffer: an announcement carries the
//     address it vouches for, so the sender's address is not needed.
//     golang.org/x/net's ipv4/ipv6 PacketConn.ReadBatch does the same system
//     call but decodes every source address into a new *net.UDPAddr (two
//     allocations per datagram), so it is only the fallback on other
//     systems. Both readers are tested on Linux; BenchmarkRun compares them.
//   - Oversize datagrams are not hidden. Every buffer is 256 bytes, far more
//     than a valid announcement; a longer datagram is cut to 256 bytes,
//     counted in Stats.Truncated, and still handed to the caller, whose
//     length check then counts it as a bad-length drop like any other.
//   - A large receive buffer (4 MiB by default) absorbs bursts while the
//     caller is busy. As root SO_RCVBUFFORCE is tried first, which ignores
//     net.core.rmem_max; otherwise the kernel caps SO_RCVBUF at rmem_max and
//     Listen logs a warning naming both sizes and the sysctl to raise.
//   - Multicast: the socket binds the group address itself, not the
//     wildcard, so only datagrams sent to that group and port arrive (Linux
//     filters on the bound address). It joins the group on the spec's
//     interface, or on the interface the routing table picks for the group
//     when the spec names none, and receives the group only from there:
//     by default Linux would also hand it the group's datagrams arriving on
//     any interface where another socket joined, so IP_MULTICAST_ALL is
//     cleared, and since the IPv6 check ignores the interface, an IPv6
//     group socket with "@iface" is also bound to the device
//     (SO_BINDTODEVICE; if that is refused, a warning is logged and the
//     socket works without it). SO_REUSEADDR is set so several processes
//     on one host can receive the same group. IPv6 groups of link-local or
//     interface-local scope (ff02::/16, ff01::/16) can only be bound with
//     an interface, so they require "@iface" (or a zone).
//   - Unicast with "@iface" (or "@prefix") means "accept only datagrams that
//     arrived on that interface": the socket is bound to the device with
//     SO_BINDTODEVICE (Linux; needs CAP_NET_RAW before Linux 5.7). The host
//     part still selects the local address, so ":8271@eth0" receives
//     everything for port 8271 that comes in through eth0.
package source

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/hashicorp/go-hclog"
	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/internal/netspec"
)

// DefaultReceiveBuffer is the SO_RCVBUF size requested when
// Options.ReceiveBuffer is zero.
const DefaultReceiveBuffer = 4 << 20

// DefaultBatchSize is the number of datagrams read per system call when
// Options.BatchSize is zero.
const DefaultBatchSize = 64

// DatagramBufferSize is the size of each receive buffer. Longer datagrams
// are truncated to this length and counted in Stats.Truncated.
const DatagramBufferSize = 256

// rmemHint tells an operator how to get the receive buffer they asked for.
const rmemHint = "raise the sysctl net.core.rmem_max to at least the asked size, or run with CAP_NET_ADMIN"

// Options tunes a receive socket. The zero value is ready to use.
type Options struct {
	// ReceiveBuffer is the SO_RCVBUF size in bytes; 0 means
	// DefaultReceiveBuffer, negative leaves the system default.
	ReceiveBuffer int
	// BatchSize is the maximum number of datagrams per read; 0 means
	// DefaultBatchSize.
	BatchSize int
	// Logger receives setup messages (never per-datagram ones); nil
	// discards them.
	Logger hclog.Logger

	// noForce skips SO_RCVBUFFORCE, so tests running as root can see the
	// kernel's rmem_max cap.
	noForce bool
	// portable selects the x/net ReadBatch reader even where recvmmsg is
	// available, so tests cover the fallback.
	portable bool
}

// Stats counts what a Conn has read. All counters only grow.
type Stats struct {
	// Datagrams is the number of datagrams handed to the handler.
	Datagrams uint64
	// Batches is the number of handler calls.
	Batches uint64
	// Truncated is the number of datagrams longer than DatagramBufferSize;
	// they are included in Datagrams, cut to DatagramBufferSize bytes.
	Truncated uint64
	// ReadErrors is the number of transient read errors that were skipped
	// (for example ENOBUFS or a queued ICMP error).
	ReadErrors uint64
}

// batchReader reads up to len(out) datagrams, pointing out[i] at the
// preallocated buffer holding datagram i.
type batchReader interface {
	readBatch(out [][]byte) (n, truncated int, err error)
}

// Conn is one UDP receive socket. Its methods are safe for concurrent use,
// except that only one Run may be active at a time.
type Conn struct {
	spec   netspec.Spec
	conn   *net.UDPConn
	reader batchReader
	out    [][]byte
	local  netip.AddrPort
	log    hclog.Logger

	running    atomic.Bool
	datagrams  atomic.Uint64
	batches    atomic.Uint64
	truncated  atomic.Uint64
	readErrors atomic.Uint64
}

// Listen opens a UDP socket for spec: it binds the spec's address (a
// multicast group is bound and joined, see the package doc), applies the
// receive buffer size and, for unicast specs naming an interface, binds the
// socket to that device. An empty host listens on every address of both
// families where the system allows dual-stack sockets. Errors name the spec.
func Listen(spec netspec.Spec, opts Options) (*Conn, error) {
	log := opts.Logger
	if log == nil {
		log = hclog.NewNullLogger()
	}
	if opts.ReceiveBuffer == 0 {
		opts.ReceiveBuffer = DefaultReceiveBuffer
	}
	if opts.BatchSize <= 0 {
		opts.BatchSize = DefaultBatchSize
	}

	ifi, err := spec.Interface()
	if err != nil {
		return nil, err // already names the spec
	}
	network, laddr, err := bindAddr(spec, ifi)
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", spec, err)
	}

	so := &sockOpts{spec: spec, ifi: ifi, receiveBuffer: opts.ReceiveBuffer, force: !opts.noForce}
	var conn *net.UDPConn
	if spec.IsMulticast() {
		// The net package would bind the wildcard address instead.
		conn, err = listenGroup(laddr, ifi, so.configure)
	} else {
		conn, err = listenUnicast(network, laddr, so.configure)
	}
	if err != nil {
		return nil, fmt.Errorf("listen %q: %w", spec, err)
	}
	c := &Conn{spec: spec, conn: conn, log: log.With("listen", spec.String())}
	if ap, ok := conn.LocalAddr().(*net.UDPAddr); ok {
		c.local = ap.AddrPort()
		c.local = netip.AddrPortFrom(c.local.Addr().Unmap(), c.local.Port())
	}

	if spec.IsMulticast() {
		if err := joinGroup(conn, spec.Addr.Addr(), ifi); err != nil {
			_ = conn.Close()
			return nil, fmt.Errorf("listen %q: join group %s: %w", spec, spec.Addr.Addr(), err)
		}
	}
	if so.devErr != nil {
		c.log.Warn("cannot bind the multicast socket to its interface; the group's datagrams arriving on other interfaces where it is joined will be received too",
			"interface", ifi.Name, "error", so.devErr)
	}
	if opts.ReceiveBuffer > 0 {
		checkReceiveBuffer(c.log, opts.ReceiveBuffer, so.reportedBuf)
	}
	if err := c.newReader(opts); err != nil {
		_ = conn.Close()
		return nil, fmt.Errorf("listen %q: %w", spec, err)
	}
	c.log.Debug("UDP socket open", "local", c.local, "interface", ifaceName(ifi), "batch", opts.BatchSize)
	return c, nil
}

// sockOpts are the options applied to a new socket before it is bound.
type sockOpts struct {
	spec          netspec.Spec
	ifi           *net.Interface
	receiveBuffer int
	force         bool

	reportedBuf int   // the receive buffer the kernel reports after setting it
	devErr      error // IPv6 multicast only: device binding refused, carry on
}

// configure runs on the new socket before it is bound.
func (o *sockOpts) configure(fd uintptr) error {
	if o.spec.IsMulticast() {
		if err := setReuseAddr(fd); err != nil {
			return err
		}
		if err := onlyJoinedGroups(fd, o.spec.Addr.Addr().Is4()); err != nil {
			return err
		}
		if o.spec.Addr.Addr().Is6() && o.ifi != nil {
			if err := bindToDevice(fd, o.ifi.Name); err != nil {
				if !errors.Is(err, syscall.EPERM) {
					return err
				}
				o.devErr = err
			}
		}
	} else if o.ifi != nil {
		if err := bindToDevice(fd, o.ifi.Name); err != nil {
			return err
		}
	}
	if o.receiveBuffer > 0 {
		var err error
		o.reportedBuf, err = setReceiveBuffer(fd, o.receiveBuffer, o.force)
		return err
	}
	return nil
}

// newReader sets up the batch buffers and the reader of an open socket:
// recvmmsg where the system has it, else one datagram per read.
func (c *Conn) newReader(opts Options) error {
	bufs := make([][]byte, opts.BatchSize)
	backing := make([]byte, opts.BatchSize*DatagramBufferSize)
	for i := range bufs {
		bufs[i] = backing[i*DatagramBufferSize : (i+1)*DatagramBufferSize : (i+1)*DatagramBufferSize]
	}
	c.out = make([][]byte, opts.BatchSize)
	if !opts.portable {
		r, err := newMmsgReader(c.conn, bufs)
		if err != nil {
			return err
		}
		c.reader = r
	}
	if c.reader == nil {
		c.reader = newPortableReader(c.conn, c.spec.Addr.Addr(), bufs)
	}
	return nil
}

func listenUnicast(network string, laddr *net.UDPAddr, configure func(fd uintptr) error) (*net.UDPConn, error) {
	lc := net.ListenConfig{Control: func(_, _ string, rc syscall.RawConn) error {
		var cfgErr error
		if err := rc.Control(func(fd uintptr) { cfgErr = configure(fd) }); err != nil {
			return err
		}
		return cfgErr
	}}
	pc, err := lc.ListenPacket(context.Background(), network, laddr.String())
	if err != nil {
		return nil, err
	}
	return pc.(*net.UDPConn), nil
}

// listenGroup opens a UDP socket bound to the multicast group address
// itself. net.ListenPacket cannot do this: given a multicast address it
// binds the wildcard address, and the socket would then also receive every
// other group's and unicast traffic for the port.
func listenGroup(laddr *net.UDPAddr, ifi *net.Interface, configure func(fd uintptr) error) (*net.UDPConn, error) {
	group, _ := netip.AddrFromSlice(laddr.IP)
	var sa unix.Sockaddr
	family := unix.AF_INET
	if group.Is4() {
		sa = &unix.SockaddrInet4{Port: laddr.Port, Addr: group.As4()}
	} else {
		family = unix.AF_INET6
		sa6 := &unix.SockaddrInet6{Port: laddr.Port, Addr: group.As16()}
		if laddr.Zone != "" {
			zi, err := zoneIndex(laddr.Zone, ifi)
			if err != nil {
				return nil, err
			}
			sa6.ZoneId = uint32(zi)
		}
		sa = sa6
	}
	fd, err := udpSocket(family)
	if err != nil {
		return nil, fmt.Errorf("socket: %w", err)
	}
	f := os.NewFile(uintptr(fd), "udp:"+laddr.String())
	defer func() { _ = f.Close() }() // net.FilePacketConn works on a duplicate
	if err := configure(uintptr(fd)); err != nil {
		return nil, err
	}
	if err := unix.Bind(fd, sa); err != nil {
		return nil, fmt.Errorf("bind %s: %w", laddr, err)
	}
	pc, err := net.FilePacketConn(f)
	if err != nil {
		return nil, fmt.Errorf("wrap socket: %w", err)
	}
	return pc.(*net.UDPConn), nil
}

// zoneIndex resolves an IPv6 zone (an interface name or index) to an
// interface index.
func zoneIndex(zone string, ifi *net.Interface) (int, error) {
	if ifi != nil && ifi.Name == zone {
		return ifi.Index, nil
	}
	if n, err := strconv.Atoi(zone); err == nil && n > 0 {
		return n, nil
	}
	z, err := net.InterfaceByName(zone)
	if err != nil {
		return 0, fmt.Errorf("zone %q: %w", zone, err)
	}
	return z.Index, nil
}

func ifaceName(ifi *net.Interface) string {
	if ifi == nil {
		return ""
	}
	return ifi.Name
}

// bindAddr picks the network and local address to bind for spec.
func bindAddr(spec netspec.Spec, ifi *net.Interface) (string, *net.UDPAddr, error) {
	ip := spec.Addr.Addr()
	laddr := &net.UDPAddr{Port: int(spec.Addr.Port())}
	switch {
	case !ip.IsValid():
		return "udp", laddr, nil
	case ip.Is4():
		laddr.IP = ip.AsSlice()
		return "udp4", laddr, nil
	}
	laddr.IP = ip.AsSlice()
	laddr.Zone = ip.Zone()
	if ip.IsMulticast() && needsScope(ip) && laddr.Zone == "" {
		if ifi == nil {
			return "", nil, fmt.Errorf("IPv6 group %s has link-local or interface-local scope: name the interface with @iface", ip)
		}
		laddr.Zone = ifi.Name
	}
	return "udp6", laddr, nil
}

// needsScope reports whether the kernel demands an interface to bind the
// IPv6 multicast address ip (scope 1 or 2: interface- or link-local).
func needsScope(ip netip.Addr) bool {
	return ip.IsInterfaceLocalMulticast() || ip.IsLinkLocalMulticast()
}

func joinGroup(conn *net.UDPConn, group netip.Addr, ifi *net.Interface) error {
	gaddr := &net.UDPAddr{IP: group.AsSlice()}
	if group.Is4() {
		return ipv4.NewPacketConn(conn).JoinGroup(ifi, gaddr)
	}
	return ipv6.NewPacketConn(conn).JoinGroup(ifi, gaddr)
}

// checkReceiveBuffer logs a warning when the kernel granted less receive
// buffer than asked; reported is the getsockopt(SO_RCVBUF) value. It
// returns the granted size.
func checkReceiveBuffer(log hclog.Logger, asked, reported int) int {
	granted := grantedReceiveBuffer(reported)
	if granted < asked {
		log.Warn("UDP receive buffer is smaller than requested; bursts of announcements may be dropped",
			"asked", asked, "granted", granted, "hint", rmemHint)
	} else {
		log.Debug("UDP receive buffer set", "asked", asked, "granted", granted)
	}
	return granted
}

// LocalAddr returns the address the socket is bound to (with the actual
// port when the spec asked for port 0). IPv4 addresses are unmapped.
func (c *Conn) LocalAddr() netip.AddrPort { return c.local }

// Close closes the socket, which makes a running Run return nil.
func (c *Conn) Close() error {
	if err := c.conn.Close(); err != nil {
		return fmt.Errorf("close %q: %w", c.spec, err)
	}
	return nil
}

// Stats returns a snapshot of the counters.
func (c *Conn) Stats() Stats {
	return Stats{
		Datagrams:  c.datagrams.Load(),
		Batches:    c.batches.Load(),
		Truncated:  c.truncated.Load(),
		ReadErrors: c.readErrors.Load(),
	}
}

// ErrRunning is returned by Run when another Run on the same Conn is active.
var ErrRunning = errors.New("source: Run already active on this socket")

// Run reads datagrams until ctx is done or the Conn is closed, then returns
// nil. handle is called with each batch of one or more datagrams, in
// arrival order, from Run's goroutine. The slices are only valid during the
// call: their memory is reused by the next read, so handle must copy what
// it keeps. A datagram longer than DatagramBufferSize is passed truncated.
// Transient read errors are counted in Stats.ReadErrors and skipped; any
// other read error ends Run and is returned, naming the spec.
func (c *Conn) Run(ctx context.Context, handle func(datagrams [][]byte)) error {
	if !c.running.CompareAndSwap(false, true) {
		return fmt.Errorf("run %q: %w", c.spec, ErrRunning)
	}
	defer c.running.Store(false)

	// A read deadline in the past wakes the blocked read when ctx ends.
	if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
		if errors.Is(err, net.ErrClosed) {
			return nil
		}
		return fmt.Errorf("run %q: %w", c.spec, err)
	}
	stop := context.AfterFunc(ctx, func() { _ = c.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	for ctx.Err() == nil {
		n, trunc, err := c.reader.readBatch(c.out)
		if err != nil {
			switch {
			case errors.Is(err, net.ErrClosed), ctx.Err() != nil:
				return nil
			case errors.Is(err, os.ErrDeadlineExceeded):
				// Left over from an earlier Run's cancellation.
				if err := c.conn.SetReadDeadline(time.Time{}); err != nil {
					return fmt.Errorf("run %q: %w", c.spec, err)
				}
				continue
			case transient(err):
				c.readErrors.Add(1)
				continue
			}
			return fmt.Errorf("read %q: %w", c.spec, err)
		}
		if n == 0 {
			continue
		}
		c.batches.Add(1)
		c.datagrams.Add(uint64(n))
		if trunc > 0 {
			c.truncated.Add(uint64(trunc))
		}
		handle(c.out[:n])
	}
	return nil
}

// transient reports whether a read error concerns one datagram or a
// passing condition rather than the socket.
func transient(err error) bool {
	var errno syscall.Errno
	if !errors.As(err, &errno) {
		return false
	}
	switch errno {
	case syscall.ECONNREFUSED, syscall.EHOSTUNREACH, syscall.ENETUNREACH,
		syscall.ENOBUFS, syscall.ENOMEM, syscall.EINTR, syscall.EAGAIN:
		return true
	}
	return false
}
