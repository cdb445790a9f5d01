package agent

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

const (
	testPSK  = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"
	otherPSK = "0000000000000000000000000000000000000000000000000000000000000001"
)

func key(t testing.TB, hex string) *protocol.Key {
	t.Helper()
	psk, err := protocol.ParsePSK(hex)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.NewKey(psk)
}

// receiver is a plain UDP socket standing in for a listener.
type receiver struct {
	conn *net.UDPConn
	spec netspec.Spec // where the agent should send to reach it
}

func newReceiver(t testing.TB, addr string) *receiver {
	t.Helper()
	c, err := net.ListenUDP("udp", net.UDPAddrFromAddrPort(netip.AddrPortFrom(netip.MustParseAddr(addr), 0)))
	if err != nil {
		if strings.Contains(addr, ":") {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	return &receiver{conn: c, spec: netspec.Spec{Addr: netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())}}
}

// next returns the next datagram and its source, failing after 5s.
func (r *receiver) next(t testing.TB) ([]byte, netip.AddrPort) {
	t.Helper()
	buf := make([]byte, 1500)
	if err := r.conn.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	n, from, err := r.conn.ReadFromUDPAddrPort(buf)
	if err != nil {
		t.Fatalf("no datagram at %v: %v", r.spec, err)
	}
	return buf[:n], from
}

// nothingMore asserts that no further datagram is queued.
func (r *receiver) nothingMore(t testing.TB) {
	t.Helper()
	if err := r.conn.SetReadDeadline(time.Now().Add(200 * time.Millisecond)); err != nil {
		t.Fatal(err)
	}
	buf := make([]byte, 1500)
	if n, _, err := r.conn.ReadFromUDP(buf); err == nil {
		t.Fatalf("unexpected extra datagram of %d bytes at %v", n, r.spec)
	}
}

func newAgent(t testing.TB, cfg Config) *Agent {
	t.Helper()
	a, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := a.Close(); err != nil {
			t.Error(err)
		}
	})
	return a
}

// checkAnnouncement parses and verifies a v1 datagram and returns its
// content.
func checkAnnouncement(t testing.TB, b []byte, k *protocol.Key) protocol.Announcement {
	t.Helper()
	return checkSized(t, b, k, protocol.Size)
}

// checkSized parses and verifies b, which must be size bytes long (a v1 or
// a v2 datagram), and returns its content.
func checkSized(t testing.TB, b []byte, k *protocol.Key, size int) protocol.Announcement {
	t.Helper()
	if len(b) != size {
		t.Fatalf("datagram is %d bytes, want %d", len(b), size)
	}
	ann, err := protocol.Parse(b)
	if err != nil {
		t.Fatalf("Parse: %v", err)
	}
	if err := k.Verify(b); err != nil {
		t.Fatalf("Verify: %v", err)
	}
	return ann
}

func TestSendOnce(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 891011000, time.UTC)
	for _, tc := range []struct{ lo, announced string }{
		{"127.0.0.1", "127.1.2.3"},
		{"::1", "2001:db8::42"},
		{"127.0.0.1", "2001:db8::42"}, // family of the address and the transport are independent
	} {
		t.Run(tc.lo+"/"+tc.announced, func(t *testing.T) {
			r1, r2 := newReceiver(t, tc.lo), newReceiver(t, tc.lo)
			k := key(t, testPSK)
			a := newAgent(t, Config{
				Group: 1000, Addr: netip.MustParseAddr(tc.announced), Key: k,
				Destinations: []netspec.Spec{r1.spec, r2.spec},
				Clock:        func() time.Time { return now },
			})
			if err := a.SendOnce(); err != nil {
				t.Fatal(err)
			}
			for _, r := range []*receiver{r1, r2} {
				b, _ := r.next(t)
				ann := checkAnnouncement(t, b, k)
				want := protocol.Announcement{Version: protocol.Version, Group: 1000, Timestamp: now.UnixMicro(), Addr: netip.MustParseAddr(tc.announced)}
				if ann != want {
					t.Errorf("announcement = %v, want %v", ann, want)
				}
				if err := key(t, otherPSK).Verify(b); !errors.Is(err, protocol.ErrMAC) {
					t.Errorf("Verify with another PSK = %v, want ErrMAC", err)
				}
				r.nothingMore(t)
			}
		})
	}
}

func TestSendOnceFreshTimestamp(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	now := time.UnixMicro(1_700_000_000_000_000)
	a := newAgent(t, Config{Group: 7, Addr: netip.MustParseAddr("10.0.0.7"), Key: k,
		Destinations: []netspec.Spec{r.spec}, Clock: func() time.Time { return now }})
	for i := range 3 {
		now = now.Add(time.Second)
		if err := a.SendOnce(); err != nil {
			t.Fatal(err)
		}
		b, _ := r.next(t)
		if ann := checkAnnouncement(t, b, k); ann.Timestamp != now.UnixMicro() {
			t.Fatalf("send %d: timestamp %d, want the clock's %d", i, ann.Timestamp, now.UnixMicro())
		}
	}
}

func TestRunRepeats(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	a := newAgent(t, Config{Group: 1, Addr: netip.MustParseAddr("192.0.2.1"), Key: k,
		Interval: 10 * time.Millisecond, Destinations: []netspec.Spec{r.spec}})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	var last int64
	for i := range 5 {
		b, _ := r.next(t)
		ann := checkAnnouncement(t, b, k)
		if ann.Group != 1 || ann.Addr != netip.MustParseAddr("192.0.2.1") {
			t.Fatalf("announcement %d = %v", i, ann)
		}
		if ann.Timestamp < last {
			t.Fatalf("announcement %d timestamp went backwards: %d < %d", i, ann.Timestamp, last)
		}
		last = ann.Timestamp
	}
	cancel()
	waitRun(t, done, "cancel")
}

func TestRunStopsOnClose(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
		Interval: time.Hour, Destinations: []netspec.Spec{r.spec}})
	done := make(chan error, 1)
	go func() { done <- a.Run(context.Background()) }()
	r.next(t) // the immediate first announcement
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	waitRun(t, done, "Close")
	if err := a.SendOnce(); !errors.Is(err, ErrClosed) {
		t.Fatalf("SendOnce after Close = %v, want ErrClosed", err)
	}
	if err := a.Close(); err != nil {
		t.Fatalf("second Close = %v", err)
	}
}

func TestRunNeedsInterval(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
		Destinations: []netspec.Spec{r.spec}})
	if err := a.Run(context.Background()); err == nil || !strings.Contains(err.Error(), "positive interval") {
		t.Fatalf("Run with zero interval = %v, want an error about the interval", err)
	}
}

// closedPort returns a loopback UDP port nobody listens on.
func closedPort(t *testing.T) netip.AddrPort {
	t.Helper()
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		t.Fatal(err)
	}
	ap := c.LocalAddr().(*net.UDPAddr).AddrPort()
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	return netip.AddrPortFrom(ap.Addr().Unmap(), ap.Port())
}

// TestRunSurvivesFailingDestination sends to a port with no listener: the
// kernel's port-unreachable reply makes the next send on the connected
// socket fail with ECONNREFUSED. The failure must be logged with the
// destination while the good destination keeps getting announcements, and
// the recovery must be logged once a listener appears.
func TestRunSurvivesFailingDestination(t *testing.T) {
	good := newReceiver(t, "127.0.0.1")
	badAddr := closedPort(t)
	bad := netspec.Spec{Addr: badAddr}
	var logs syncbuf.Buffer
	k := key(t, testPSK)
	a := newAgent(t, Config{Group: 5, Addr: netip.MustParseAddr("192.0.2.5"), Key: k,
		Interval: 10 * time.Millisecond, Destinations: []netspec.Spec{bad, good.spec},
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()

	warning := `destination=` + bad.String()
	deadline := time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), warning) {
		if time.Now().After(deadline) {
			t.Fatalf("no warning naming %s within 5s; log:\n%s", bad, logs.String())
		}
		b, _ := good.next(t)
		checkAnnouncement(t, b, k)
	}
	logged := logs.String()
	for _, want := range []string{"[WARN]", "connection refused"} {
		if !strings.Contains(logged, want) {
			t.Errorf("log lacks %q:\n%s", want, logged)
		}
	}
	// Still running, still announcing to the good destination; the dead
	// destination keeps failing (every other send, as ICMP errors arrive
	// one send late) but is warned about once per streak, not every tick,
	// and never reported as recovered.
	for range 10 {
		b, _ := good.next(t)
		checkAnnouncement(t, b, k)
	}
	if n := strings.Count(logs.String(), "[WARN]"); n != 1 {
		t.Errorf("%d warnings for one dead destination, want 1:\n%s", n, logs.String())
	}
	if strings.Contains(logs.String(), "reach destination again") {
		t.Errorf("a destination with nothing listening was reported as recovered:\n%s", logs.String())
	}
	select {
	case err := <-done:
		t.Fatalf("Run returned %v after a failed send", err)
	default:
	}

	// A listener appears on the failing port: announcements arrive there
	// and the recovery is logged.
	revived, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(badAddr))
	if err != nil {
		t.Skipf("port %v was taken meanwhile: %v", badAddr, err)
	}
	t.Cleanup(func() { _ = revived.Close() })
	r := &receiver{conn: revived, spec: bad}
	b, _ := r.next(t)
	checkAnnouncement(t, b, k)
	deadline = time.Now().Add(5 * time.Second)
	for !strings.Contains(logs.String(), "reach destination again") {
		if time.Now().After(deadline) {
			t.Fatalf("recovery not logged within 5s; log:\n%s", logs.String())
		}
		r.next(t)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatalf("Run = %v", err)
	}
}

func TestSendOnceReportsFailingDestination(t *testing.T) {
	good := newReceiver(t, "127.0.0.1")
	bad := netspec.Spec{Addr: closedPort(t)}
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.5"), Key: key(t, testPSK),
		Destinations: []netspec.Spec{bad, good.spec}})
	// The first send provokes the port-unreachable reply; a later one
	// reports it. Both reach the good destination.
	var err error
	for range 10 {
		if err = a.SendOnce(); err != nil {
			break
		}
		good.next(t)
		time.Sleep(10 * time.Millisecond) // let the ICMP reply arrive
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("SendOnce = %v, want ECONNREFUSED", err)
	}
	if !strings.Contains(err.Error(), `"`+bad.String()+`"`) || strings.Contains(err.Error(), good.spec.String()) {
		t.Errorf("error %q should name only the failing destination %s", err, bad)
	}
	good.next(t) // the failing send did not stop the good one
}

func TestNewErrors(t *testing.T) {
	good := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	base := func() Config {
		return Config{Group: 1, Addr: netip.MustParseAddr("10.0.0.1"), Key: k, Destinations: []netspec.Spec{good.spec}}
	}
	parse := func(s string) netspec.Spec {
		sp, err := netspec.Parse(s)
		if err != nil {
			t.Fatal(err)
		}
		return sp
	}
	tests := []struct {
		name   string
		modify func(*Config)
		want   []string
	}{
		{"no key", func(c *Config) { c.Key = nil }, []string{"no key"}},
		{"no address", func(c *Config) { c.Addr = netip.Addr{} }, []string{"no address to announce"}},
		{"negative interval", func(c *Config) { c.Interval = -time.Second }, []string{"negative interval -1s"}},
		{"interval below 10ms", func(c *Config) { c.Interval = time.Millisecond }, []string{"interval 1ms is below the minimum of 10ms"}},
		{"interval just below 10ms", func(c *Config) { c.Interval = 9999 * time.Microsecond }, []string{"interval 9.999ms is below the minimum of 10ms"}},
		{"no destinations", func(c *Config) { c.Destinations = nil }, []string{"no destinations"}},
		{"empty host", func(c *Config) {
			c.Destinations = append(c.Destinations, parse(":8271"))
		}, []string{`destination ":8271"`, "needs an IP address"}},
		{"unspecified host", func(c *Config) {
			c.Destinations = append(c.Destinations, parse("0.0.0.0:8271"))
		}, []string{`destination "0.0.0.0:8271"`, "unspecified address"}},
		{"port 0", func(c *Config) {
			c.Destinations = append(c.Destinations, netspec.Spec{Addr: netip.MustParseAddrPort("127.0.0.1:0")})
		}, []string{`destination "127.0.0.1:0"`, "port 0"}},
		{"link-local group without interface", func(c *Config) {
			c.Destinations = append(c.Destinations, parse("[ff02::8271]:8271"))
		}, []string{`destination "[ff02::8271]:8271"`, "add @iface"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := base()
			tt.modify(&cfg)
			a, err := New(cfg)
			if err == nil {
				_ = a.Close()
				t.Fatal("New succeeded, want an error")
			}
			for _, want := range tt.want {
				if !strings.Contains(err.Error(), want) {
					t.Errorf("error %q does not contain %q", err, want)
				}
			}
			if strings.HasPrefix(err.Error(), "agent:") {
				t.Errorf("error %q starts with \"agent:\"; the command line prefixes \"rgap agent:\" already", err)
			}
		})
	}
}

// TestNewAnnouncedAddress: the agent announces only what a listener
// accepts, by protocol.CheckAddress: no unspecified, multicast, limited
// broadcast or link-local address; loopback and ordinary unicast are fine.
func TestNewAnnouncedAddress(t *testing.T) {
	good := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	tests := []struct {
		addr string
		want string // "" when New must accept it
	}{
		{"0.0.0.0", "cannot announce 0.0.0.0: unspecified address is not a unicast host address"},
		{"::", "cannot announce ::: unspecified address"},
		{"224.0.0.1", "cannot announce 224.0.0.1: multicast address"},
		{"239.1.1.1", "multicast address"},
		{"ff02::1", "cannot announce ff02::1: multicast address"},
		{"255.255.255.255", "cannot announce 255.255.255.255: limited-broadcast address"},
		{"::ffff:255.255.255.255", "limited-broadcast address"},
		{"fe80::1", "cannot announce fe80::1: link-local address"},
		{"169.254.1.1", "cannot announce 169.254.1.1: link-local address"},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"10.0.0.1", ""},
		{"2001:db8::1", ""},
	}
	for _, tt := range tests {
		t.Run(tt.addr, func(t *testing.T) {
			a, err := New(Config{Group: 1, Addr: netip.MustParseAddr(tt.addr), Key: k, Destinations: []netspec.Spec{good.spec}})
			if tt.want == "" {
				if err != nil {
					t.Fatalf("New refused %s: %v", tt.addr, err)
				}
				if err := a.Close(); err != nil {
					t.Fatal(err)
				}
				return
			}
			if err == nil {
				_ = a.Close()
				t.Fatalf("New accepted %s, want %q", tt.addr, tt.want)
			}
			if !errors.Is(err, protocol.ErrAddress) || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("New(%s) = %q, want an ErrAddress saying %q", tt.addr, err, tt.want)
			}
		})
	}
}

// TestDestinationNotReadyAtStart: a destination that depends on the state
// of the network (an interface that does not exist, a prefix no interface
// has an address in) does not stop New. SendOnce reports it, naming it once,
// and still sends to the others; Run warns once and keeps announcing to
// the others.
func TestDestinationNotReadyAtStart(t *testing.T) {
	k := key(t, testPSK)
	tests := []struct{ dst, want string }{
		{"127.0.0.1:8271@rgapnosuch0", "no matching network interface"},
		{"127.0.0.1:8271@198.51.100.0/24", "no interface has an address in 198.51.100.0/24"},
		{"[::1]:8271@127.0.0.0/8", "no IPv6 address in 127.0.0.0/8"},
	}
	for _, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			bad, err := netspec.Parse(tt.dst)
			if err != nil {
				t.Fatal(err)
			}
			good := newReceiver(t, "127.0.0.1")
			var logs syncbuf.Buffer
			a, err := New(Config{Group: 3, Addr: netip.MustParseAddr("192.0.2.3"), Key: k,
				Interval: 10 * time.Millisecond, Destinations: []netspec.Spec{bad, good.spec},
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
			if err != nil {
				t.Fatalf("New = %v, want it to start and retry %s at every send", err, tt.dst)
			}
			t.Cleanup(func() { _ = a.Close() })

			err = a.SendOnce()
			if err == nil || !strings.Contains(err.Error(), tt.want) {
				t.Fatalf("SendOnce = %v, want an error saying %q", err, tt.want)
			}
			if n := strings.Count(err.Error(), tt.dst); n != 1 {
				t.Errorf("error %q names %s %d times, want once", err, tt.dst, n)
			}
			if strings.Contains(err.Error(), good.spec.String()) {
				t.Errorf("error %q names the good destination %s", err, good.spec)
			}
			b, _ := good.next(t)
			checkAnnouncement(t, b, k)

			ctx, cancel := context.WithCancel(context.Background())
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			for range 10 {
				b, _ := good.next(t)
				checkAnnouncement(t, b, k)
			}
			cancel()
			if err := <-done; err != nil {
				t.Fatalf("Run = %v", err)
			}
			logged := logs.String()
			if n := strings.Count(logged, "[WARN]"); n != 1 || !strings.Contains(logged, "destination="+tt.dst) || !strings.Contains(logged, tt.want) {
				t.Errorf("want one warning naming %s and saying %q; log:\n%s", tt.dst, tt.want, logged)
			}
		})
	}
}

// TestUnicastSourceInterface checks that "@iface" on a unicast destination
// sets the source address: with lo's only IPv4 address it is 127.0.0.1.
// (The netns test checks a case where the source differs from the default.)
func TestUnicastSourceInterface(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	lo := netnstest.Loopback(t).Name
	s, err := netspec.Parse(r.spec.String() + "@" + lo)
	if err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, Config{Addr: netip.MustParseAddr("10.0.0.1"), Key: key(t, testPSK), Destinations: []netspec.Spec{s}})
	if err := a.SendOnce(); err != nil {
		t.Fatal(err)
	}
	if _, from := r.next(t); from.Addr().Unmap() != netip.MustParseAddr("127.0.0.1") {
		t.Fatalf("source = %v, want 127.0.0.1", from)
	}
}

// BenchmarkSendOnce measures one signed announcement to one loopback
// destination; it should not allocate.
func BenchmarkSendOnce(b *testing.B) {
	r := newReceiver(b, "127.0.0.1")
	if err := r.conn.SetReadBuffer(8 << 20); err != nil {
		b.Fatal(err)
	}
	a := newAgent(b, Config{Addr: netip.MustParseAddr("10.0.0.1"), Key: key(b, testPSK), Destinations: []netspec.Spec{r.spec}})
	done := make(chan struct{})
	go func() { // drain so the receive queue never fills
		buf := make([]byte, 1500)
		for {
			if _, err := r.conn.Read(buf); err != nil {
				close(done)
				return
			}
		}
	}()
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if err := a.SendOnce(); err != nil {
			b.Fatal(err)
		}
	}
	b.StopTimer()
	if err := r.conn.Close(); err != nil {
		b.Fatal(err)
	}
	<-done
}
