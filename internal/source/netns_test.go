package source

import (
	"bytes"
	"errors"
	"net"
	"net/netip"
	"syscall"
	"testing"
	"time"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/netspec"
)

// netnsSetup is the private network namespace (see netnstest) the
// multicast tests run in: lo up with multicast on and 239.0.0.0/8 routed to
// it, as well as veth pairs rgap0/rgap1 (rgap0: 10.99.0.1/24, fd99::1/64)
// and rgap2/rgap3 (link-local addresses only). The veth pairs exist because
// Linux does not loop IPv6 multicast back over lo: a datagram sent to an
// IPv6 group through lo never reaches a member socket (checked on 6.x
// kernels), while on any other multicast-capable interface the
// IPV6_MULTICAST_LOOP copy is delivered locally.
const netnsSetup = `sysctl -qw net.ipv6.conf.default.accept_dad=0 # usable link-local addresses at once
ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo
ip link add rgap0 type veth peer name rgap1
ip link set rgap0 up
ip link set rgap1 up
ip addr add 10.99.0.1/24 dev rgap0
ip -6 addr add fd99::1/64 dev rgap0 nodad
ip link add rgap2 type veth peer name rgap3
ip link set rgap2 up
ip link set rgap3 up`

// mcastSender returns a UDP socket that sends multicast out of ifname.
func mcastSender(t *testing.T, group netip.Addr, ifname string) *net.UDPConn {
	t.Helper()
	network := "udp4"
	if group.Is6() {
		network = "udp6"
	}
	c, err := net.ListenUDP(network, nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	ifi, err := net.InterfaceByName(ifname)
	if err != nil {
		t.Fatal(err)
	}
	if group.Is4() {
		err = ipv4.NewPacketConn(c).SetMulticastInterface(ifi)
	} else {
		err = ipv6.NewPacketConn(c).SetMulticastInterface(ifi)
	}
	if err != nil {
		t.Fatal(err)
	}
	return c
}

func sendTo(t *testing.T, c *net.UDPConn, dst netip.AddrPort, zone string, b []byte) {
	t.Helper()
	ua := net.UDPAddrFromAddrPort(dst)
	ua.Zone = zone
	if _, err := c.WriteToUDP(b, ua); err != nil {
		t.Fatalf("send to %v: %v", ua, err)
	}
}

func TestMulticastNetns(t *testing.T) {
	if !netnstest.Run(t, netnsSetup) {
		return
	}
	tests := []struct {
		spec   string // port 8271 is replaced by nothing: the namespace is private
		via    string // interface the sender uses
		zone   string // zone for link-local IPv6 destinations
		other  string // another group on the same port, which must not arrive
		family string
	}{
		{spec: "239.82.71.65:8271", via: "lo", other: "239.82.71.66"},
		{spec: "239.82.71.65:8272@lo", via: "lo", other: "239.82.71.66"},
		{spec: "239.82.71.65:8273@rgap0", via: "rgap0", other: "239.82.71.66"},
		{spec: "239.82.71.65:8274@10.99.0.0/24", via: "rgap0", other: "239.82.71.66"},
		{spec: "[ff15::8271]:8275@rgap0", via: "rgap0", other: "ff15::8272"},
		{spec: "[ff15::8271]:8276@fd99::/64", via: "rgap0", other: "ff15::8272"},
		{spec: "[ff02::8271]:8277@rgap0", via: "rgap0", zone: "rgap0", other: "ff02::8272"},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := netspec.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			c := listen(t, s, Options{})
			if c.LocalAddr().Addr().WithZone("") != s.Addr.Addr() || c.LocalAddr().Port() != s.Addr.Port() {
				t.Errorf("LocalAddr = %v, want the group address %v", c.LocalAddr(), s.Addr)
			}
			// A member of another group on the same port, so that group's
			// datagrams do reach this host; c must still not see them.
			otherGroup := netip.MustParseAddr(tt.other)
			otherSpec := netspec.Spec{Addr: netip.AddrPortFrom(otherGroup, s.Addr.Port()), Iface: tt.via}
			other := listen(t, otherSpec, Options{})

			col := collect(t, c)
			otherCol := collect(t, other)
			snd := mcastSender(t, s.Addr.Addr(), tt.via)
			sendTo(t, snd, otherSpec.Addr, tt.zone, []byte("other group"))
			if got := otherCol.datagrams(t, 1); string(got[0]) != "other group" {
				t.Fatalf("other group's member got %q", got[0])
			}
			sendTo(t, snd, s.Addr, tt.zone, payload(42))
			got := col.datagrams(t, 1)
			if !bytes.Equal(got[0], payload(42)) {
				t.Fatalf("group member got %q first, want %q (the other group's datagram must not arrive)", got[0], payload(42))
			}
			if st := c.Stats(); st.Datagrams != 1 {
				t.Errorf("Stats = %+v, want exactly 1 datagram", st)
			}
		})
	}
}

// TestUnicastBoundInterfaceNetns checks what "@iface" means for unicast: a
// socket bound to rgap0 does not receive what arrives on lo. The kernel
// answers such a datagram with port-unreachable, which a connected sender
// sees as ECONNREFUSED.
func TestUnicastBoundInterfaceNetns(t *testing.T) {
	if !netnstest.Run(t, netnsSetup) {
		return
	}
	s, err := netspec.Parse(":8271@rgap0")
	if err != nil {
		t.Fatal(err)
	}
	c := listen(t, s, Options{})
	collect(t, c)

	snd := sender(t, netip.MustParseAddrPort("127.0.0.1:8271"))
	if _, err := snd.Write(payload(1)); err != nil {
		t.Fatal(err)
	}
	if err := snd.SetReadDeadline(time.Now().Add(5 * time.Second)); err != nil {
		t.Fatal(err)
	}
	_, err = snd.Read(make([]byte, 10))
	if !errors.Is(err, syscall.ECONNREFUSED) {
		t.Fatalf("datagram to 127.0.0.1 (arriving on lo): sender got %v, want ECONNREFUSED because the socket is bound to rgap0", err)
	}
	if st := c.Stats(); st.Datagrams != 0 {
		t.Fatalf("socket bound to rgap0 received %d datagrams that arrived on lo", st.Datagrams)
	}

	// Same port bound to lo is allowed alongside (different device) and
	// receives it.
	loSpec, _ := netspec.Parse(":8271@lo")
	onLo := listen(t, loSpec, Options{})
	loCol := collect(t, onLo)
	send(t, netip.MustParseAddrPort("127.0.0.1:8271"), payload(2))
	if got := loCol.datagrams(t, 1); !bytes.Equal(got[0], payload(2)) {
		t.Fatalf("socket bound to lo got %q", got[0])
	}
}

// TestMulticastJoinedInterfaceOnlyNetns: two sockets bound to the same
// group and port, one joined on lo and one on rgap0, each receive only what
// arrives on their own interface.
func TestMulticastJoinedInterfaceOnlyNetns(t *testing.T) {
	if !netnstest.Run(t, netnsSetup) {
		return
	}
	for _, group := range []string{"239.82.71.70", "ff15::8270"} {
		t.Run(group, func(t *testing.T) {
			g := netip.MustParseAddr(group)
			port := uint16(8280)
			ifaces := []string{"lo", "rgap0"}
			if g.Is6() {
				ifaces = []string{"rgap2", "rgap0"} // no IPv6 multicast on lo
			}
			cols := map[string]*collector{}
			for _, ifname := range ifaces {
				c := listen(t, netspec.Spec{Addr: netip.AddrPortFrom(g, port), Iface: ifname}, Options{})
				cols[ifname] = collect(t, c)
			}
			for _, ifname := range ifaces {
				sendTo(t, mcastSender(t, g, ifname), netip.AddrPortFrom(g, port), "", []byte("via "+ifname))
			}
			for _, ifname := range ifaces {
				got := cols[ifname].datagrams(t, 1)
				if string(got[0]) != "via "+ifname {
					t.Errorf("socket joined on %s got %q first, want %q", ifname, got[0], "via "+ifname)
				}
			}
			// Both datagrams were delivered somewhere; give a stray copy
			// time to show up before checking there is none.
			time.Sleep(100 * time.Millisecond)
			for _, ifname := range ifaces {
				if n := len(cols[ifname].datagrams(t, 1)); n != 1 {
					t.Errorf("socket joined on %s got %d datagrams, want 1", ifname, n)
				}
			}
		})
	}
}
