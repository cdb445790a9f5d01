package agent

import (
	"bytes"
	"context"
	"errors"
	"net"
	"net/netip"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/source"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

// netnsSetup is the private network namespace (see netnstest) of the tests
// that need multicast or a second interface: lo (up, multicast on,
// 239.0.0.0/8 routed to it with source 127.0.0.1) and a veth pair
// rgap0/rgap1 with rgap0 = 10.99.0.1/24, fd99::1/64. IPv6 multicast is
// tested on the veth because Linux does not loop IPv6 multicast back over
// lo. With "src" on the route, a socket connected without @iface picks
// 127.0.0.1 as its source; otherwise Linux would pick rgap0's 10.99.0.1 and
// then send out of rgap0, the interface owning that source address.
const netnsSetup = `sysctl -qw net.ipv6.conf.default.accept_dad=0
ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo src 127.0.0.1
ip link add rgap0 type veth peer name rgap1
ip link set rgap0 up
ip link set rgap1 up
ip addr add 10.99.0.1/24 dev rgap0
ip -6 addr add fd99::1/64 dev rgap0 nodad`

// TestMulticastInterfaceNetns: the receiving socket joins the group on
// rgap0 only, while the routing table sends 239.0.0.0/8 to lo. An agent
// without "@iface" therefore does not reach it; one with "@rgap0" or
// "@10.99.0.0/24" does, which shows IP_MULTICAST_IF is applied.
func TestMulticastInterfaceNetns(t *testing.T) {
	if !netnstest.Run(t, netnsSetup) {
		return
	}
	k := key(t, testPSK)
	tests := []struct {
		listen   string // receiver spec, joined on rgap0
		dst      string // agent destination
		unrouted string // same group without an interface, or "" if it cannot be sent
	}{
		{"239.82.71.65:8271@rgap0", "239.82.71.65:8271@rgap0", "239.82.71.65:8271"},
		{"239.82.71.65:8272@rgap0", "239.82.71.65:8272@10.99.0.0/24", "239.82.71.65:8272"},
		{"[ff15::8271]:8273@rgap0", "[ff15::8271]:8273@rgap0", ""},
		{"[ff15::8271]:8274@rgap0", "[ff15::8271]:8274@fd99::/64", ""},
		{"[ff02::8271]:8275@rgap0", "[ff02::8271]:8275@rgap0", ""},
	}
	for _, tt := range tests {
		t.Run(tt.dst, func(t *testing.T) {
			ls, _ := netspec.Parse(tt.listen)
			conn, err := source.Listen(ls, source.Options{})
			if err != nil {
				t.Fatal(err)
			}
			defer func() { _ = conn.Close() }()
			got := make(chan []byte, 10)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			stopped := make(chan error, 1)
			go func() {
				stopped <- conn.Run(ctx, func(dgs [][]byte) {
					for _, d := range dgs {
						got <- bytes.Clone(d)
					}
				})
			}()

			if tt.unrouted != "" {
				us, _ := netspec.Parse(tt.unrouted)
				wrong := newAgent(t, Config{Group: 1, Addr: netip.MustParseAddr("192.0.2.99"), Key: k, Destinations: []netspec.Spec{us}})
				if err := wrong.SendOnce(); err != nil {
					t.Fatal(err)
				}
			}
			ds, _ := netspec.Parse(tt.dst)
			a := newAgent(t, Config{Group: 1, Addr: netip.MustParseAddr("192.0.2.1"), Key: k, Destinations: []netspec.Spec{ds}})
			if err := a.SendOnce(); err != nil {
				t.Fatal(err)
			}
			select {
			case b := <-got:
				if ann := checkAnnouncement(t, b, k); ann.Addr != netip.MustParseAddr("192.0.2.1") {
					t.Fatalf("first announcement on rgap0 is %v: the one sent without @iface leaked onto rgap0", ann)
				}
			case err := <-stopped:
				t.Fatalf("receiving on %s stopped before the announcement arrived: %v", tt.listen, err)
			case <-time.After(5 * time.Second):
				t.Fatal("announcement did not arrive on rgap0 within 5s")
			}
		})
	}
}

// TestUnicastSourceAddressNetns: "@iface"/"@prefix" on a unicast
// destination picks the source address the listener sees.
func TestUnicastSourceAddressNetns(t *testing.T) {
	if !netnstest.Run(t, netnsSetup) {
		return
	}
	k := key(t, testPSK)
	tests := []struct {
		lo, suffix, wantSource string
	}{
		{"127.0.0.1", "", "127.0.0.1"},
		{"127.0.0.1", "@rgap0", "10.99.0.1"},
		{"127.0.0.1", "@10.99.0.0/24", "10.99.0.1"},
		{"::1", "", "::1"},
		{"::1", "@rgap0", "fd99::1"}, // preferred over rgap0's link-local address
		{"::1", "@fd99::/64", "fd99::1"},
	}
	for _, tt := range tests {
		t.Run(tt.lo+tt.suffix, func(t *testing.T) {
			r := newReceiver(t, tt.lo)
			ds, err := netspec.Parse(r.spec.String() + tt.suffix)
			if err != nil {
				t.Fatal(err)
			}
			a := newAgent(t, Config{Group: 2, Addr: netip.MustParseAddr("192.0.2.2"), Key: k, Destinations: []netspec.Spec{ds}})
			if err := a.SendOnce(); err != nil {
				t.Fatal(err)
			}
			b, from := r.next(t)
			checkAnnouncement(t, b, k)
			if from.Addr().Unmap() != netip.MustParseAddr(tt.wantSource) {
				t.Fatalf("source address = %v, want %s", from.Addr(), tt.wantSource)
			}
		})
	}
}

// TestUnreachableAtStartNetns reproduces an agent started before the
// network is ready, in a namespace whose only interface is lo: with lo
// down nothing is reachable, and with lo up 192.0.2.1 has no route. New
// must not fail; SendOnce reports each unreachable destination and still
// sends to the reachable one; Run warns once per destination, keeps
// announcing to the others, and reaches the failed one at the first tick
// after the network allows it, logging the recovery.
func TestUnreachableAtStartNetns(t *testing.T) {
	if !netnstest.Run(t, "ip link set lo down") {
		return
	}
	k := key(t, testPSK)
	ip := func(args ...string) {
		t.Helper()
		if out, err := exec.Command("ip", args...).CombinedOutput(); err != nil { //nolint:gosec // the test's own ip(8) arguments, in its own network namespace
			t.Fatalf("ip %v: %v\n%s", args, err, out)
		}
	}
	tests := []struct {
		name  string
		setup [][]string // before New
		bad   string     // unreachable at start
		good  bool       // also send to a loopback receiver
		fix   [][]string // makes bad reachable; bad's host is local then
		want  error
	}{
		{
			name: "lo down",
			bad:  "127.0.0.1:8271",
			fix:  [][]string{{"link", "set", "lo", "up"}},
			want: syscall.ENETUNREACH,
		},
		{
			name:  "one of two without a route",
			setup: [][]string{{"link", "set", "lo", "up"}},
			bad:   "192.0.2.1:8271",
			good:  true,
			fix:   [][]string{{"addr", "add", "192.0.2.1/32", "dev", "lo"}},
			want:  syscall.ENETUNREACH,
		},
		{
			name:  "interface not there yet",
			setup: [][]string{{"link", "set", "lo", "up"}},
			bad:   "127.0.0.1:8272@rgap0",
			good:  true,
			fix: [][]string{
				{"link", "add", "rgap0", "type", "veth", "peer", "name", "rgap1"},
				{"addr", "add", "10.99.0.1/24", "dev", "rgap0"},
				{"link", "set", "rgap0", "up"},
				{"link", "set", "rgap1", "up"},
			},
			want: netspec.ErrNoInterface,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			for _, args := range tt.setup {
				ip(args...)
			}
			bad, err := netspec.Parse(tt.bad)
			if err != nil {
				t.Fatal(err)
			}
			dsts := []netspec.Spec{bad}
			var good *receiver
			if tt.good {
				good = newReceiver(t, "127.0.0.1")
				dsts = append(dsts, good.spec)
			}
			var logs syncbuf.Buffer
			a, err := New(Config{Group: 4, Addr: netip.MustParseAddr("192.0.2.4"), Key: k,
				Interval: 10 * time.Millisecond, Destinations: dsts,
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
			if err != nil {
				t.Fatalf("New = %v, want the agent to start with %s unreachable", err, tt.bad)
			}
			defer func() { _ = a.Close() }()

			// Send once: the unreachable destination is an error naming it,
			// the reachable one still gets its announcement.
			err = a.SendOnce()
			if !errors.Is(err, tt.want) || !strings.Contains(err.Error(), `"`+tt.bad+`"`) {
				t.Fatalf("SendOnce = %v, want %v naming %q", err, tt.want, tt.bad)
			}
			if good != nil {
				b, _ := good.next(t)
				checkAnnouncement(t, b, k)
			}

			// With an interval: one warning, the others keep getting
			// announcements, the agent keeps running.
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			done := make(chan error, 1)
			go func() { done <- a.Run(ctx) }()
			if good != nil {
				for range 20 {
					b, _ := good.next(t)
					checkAnnouncement(t, b, k)
				}
			} else {
				time.Sleep(200 * time.Millisecond)
			}
			select {
			case err := <-done:
				t.Fatalf("Run returned %v while %s was unreachable", err, tt.bad)
			default:
			}
			if n := strings.Count(logs.String(), "[WARN]"); n != 1 || !strings.Contains(logs.String(), "destination="+tt.bad) {
				t.Fatalf("want one warning naming %s; log:\n%s", tt.bad, logs.String())
			}

			// The network comes up: the next ticks reach the destination.
			for _, args := range tt.fix {
				ip(args...)
			}
			lc, err := net.ListenUDP("udp4", net.UDPAddrFromAddrPort(bad.Addr))
			if err != nil {
				t.Fatal(err)
			}
			r := &receiver{conn: lc, spec: bad}
			defer func() { _ = lc.Close() }()
			b, from := r.next(t)
			checkAnnouncement(t, b, k)
			if bad.Iface != "" && from.Addr().Unmap() != netip.MustParseAddr("10.99.0.1") {
				t.Errorf("source = %v, want %s's address 10.99.0.1", from, bad.Iface)
			}
			deadline := time.Now().Add(5 * time.Second)
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
		})
	}
}
