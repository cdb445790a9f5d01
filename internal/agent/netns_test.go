package agent

import (
	"bytes"
	"context"
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/source"
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
			defer conn.Close()
			got := make(chan []byte, 10)
			ctx, cancel := context.WithCancel(context.Background())
			defer cancel()
			go conn.Run(ctx, func(dgs [][]byte) {
				for _, d := range dgs {
					got <- bytes.Clone(d)
				}
			})

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
