package netspec

import (
	"errors"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/internal/netnstest"
)

func TestParseValid(t *testing.T) {
	ap := netip.MustParseAddrPort
	tests := []struct {
		in   string
		want Spec
		str  string // String() when it differs from in
	}{
		{in: "239.82.71.65:8271", want: Spec{Addr: ap("239.82.71.65:8271")}},
		{in: "127.0.0.1:1", want: Spec{Addr: ap("127.0.0.1:1")}},
		{in: "127.0.0.1:65535", want: Spec{Addr: ap("127.0.0.1:65535")}},
		{in: "239.82.71.65:8271@eth0", want: Spec{Addr: ap("239.82.71.65:8271"), Iface: "eth0"}},
		{in: "239.82.71.65:8271@192.168.0.0/16", want: Spec{Addr: ap("239.82.71.65:8271"), Prefix: netip.MustParsePrefix("192.168.0.0/16")}},
		{in: "239.82.71.65:8271@192.168.7.9/16", want: Spec{Addr: ap("239.82.71.65:8271"), Prefix: netip.MustParsePrefix("192.168.7.9/16")}},
		{in: "[::1]:8271", want: Spec{Addr: ap("[::1]:8271")}},
		{in: "[ff02::1]:8271@eth0", want: Spec{Addr: ap("[ff02::1]:8271"), Iface: "eth0"}},
		{in: "[ff15::1]:8271@fd00::/8", want: Spec{Addr: ap("[ff15::1]:8271"), Prefix: netip.MustParsePrefix("fd00::/8")}},
		{in: "[fe80::1%eth0]:8271", want: Spec{Addr: ap("[fe80::1%eth0]:8271")}},
		{in: ":8271", want: Spec{Addr: netip.AddrPortFrom(netip.Addr{}, 8271)}},
		{in: ":8271@lo", want: Spec{Addr: netip.AddrPortFrom(netip.Addr{}, 8271), Iface: "lo"}},
		{in: "[::]:8271", want: Spec{Addr: ap("[::]:8271")}},
		{in: "0.0.0.0:8271", want: Spec{Addr: ap("0.0.0.0:8271")}},
		{in: "127.0.0.1:08271", want: Spec{Addr: ap("127.0.0.1:8271")}, str: "127.0.0.1:8271"},
		// IPv4-mapped IPv6 is unmapped; brackets around IPv4 are tolerated.
		{in: "[::ffff:10.1.2.3]:8271", want: Spec{Addr: ap("10.1.2.3:8271")}, str: "10.1.2.3:8271"},
		{in: "[10.1.2.3]:8271", want: Spec{Addr: ap("10.1.2.3:8271")}, str: "10.1.2.3:8271"},
		{in: "10.0.0.1:8271@abcdefghijklmno", want: Spec{Addr: ap("10.0.0.1:8271"), Iface: "abcdefghijklmno"}},
		{in: "10.0.0.1:8271@br-lan.100", want: Spec{Addr: ap("10.0.0.1:8271"), Iface: "br-lan.100"}},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err != nil {
				t.Fatalf("Parse(%q): %v", tt.in, err)
			}
			if got != tt.want {
				t.Fatalf("Parse(%q) = %+v, want %+v", tt.in, got, tt.want)
			}
			wantStr := tt.in
			if tt.str != "" {
				wantStr = tt.str
			}
			if s := got.String(); s != wantStr {
				t.Errorf("String() = %q, want %q", s, wantStr)
			}
			again, err := Parse(got.String())
			if err != nil || again != got {
				t.Errorf("round trip via %q: got %+v, %v", got.String(), again, err)
			}
		})
	}
}

func TestParseInvalid(t *testing.T) {
	tests := []struct {
		in   string
		want string // substring of the error, after the quoted spec
	}{
		{"", "empty address"},
		{"@eth0", "empty address"},
		{"10.0.0.1", "missing port"},
		{"10.0.0.1:", "missing port"},
		{"[::1]", "missing port"},
		{"::1", "write IPv6 addresses in brackets"},
		{"ff02::1@eth0", "write IPv6 addresses in brackets"},
		{"10.0.0.1:0", "bad port 0"},
		{"10.0.0.1:65536", `bad port "65536": must be 1..65535`},
		{"10.0.0.1:99999999999999999999999", "must be 1..65535"},
		{"10.0.0.1:-1", "not a decimal number"},
		{"10.0.0.1:+80", "not a decimal number"},
		{"10.0.0.1:http", "not a decimal number"},
		{"foo:8271", `host must be an IP address, got "foo"`},
		{"localhost:8271", `host must be an IP address, got "localhost"`},
		{"[example.com]:8271", `host must be an IP address, got "example.com"`},
		{"10.0.0.256:8271", `bad IP address "10.0.0.256"`},
		{"1.2.3:8271", `bad IP address "1.2.3"`},
		{"[fe80::zz]:8271", `bad IP address "fe80::zz"`},
		{"[::1]:8271:9", "want host:port"},
		{"10.0.0.1:8271@", "empty interface name"},
		{"10.0.0.1:8271@10.0.0.0/33", `bad prefix "10.0.0.0/33"`},
		{"10.0.0.1:8271@10.0.0.0/", `bad prefix "10.0.0.0/"`},
		{"10.0.0.1:8271@/24", `bad prefix "/24"`},
		{"10.0.0.1:8271@eth0/24", `bad prefix "eth0/24"`},
		{"10.0.0.1:8271@10.1.2.3", "is an IP address, not an interface"},
		{"10.0.0.1:8271@abcdefghijklmnop", "longer than 15 bytes"},
		{"10.0.0.1:8271@eth0:1", `bad interface name "eth0:1"`},
		{"10.0.0.1:8271@eth 0", `bad interface name "eth 0"`},
		{"10.0.0.1:8271@..", `bad interface name ".."`},
	}
	for _, tt := range tests {
		t.Run(tt.in, func(t *testing.T) {
			got, err := Parse(tt.in)
			if err == nil {
				t.Fatalf("Parse(%q) = %+v, want error containing %q", tt.in, got, tt.want)
			}
			msg := err.Error()
			if !strings.HasPrefix(msg, "address spec "+quote(tt.in)+": ") {
				t.Errorf("error %q does not name the spec %q", msg, tt.in)
			}
			if !strings.Contains(msg, tt.want) {
				t.Errorf("error %q does not contain %q", msg, tt.want)
			}
		})
	}
}

func quote(s string) string { return `"` + strings.ReplaceAll(s, `"`, `\"`) + `"` }

func TestIsMulticast(t *testing.T) {
	for in, want := range map[string]bool{
		"239.82.71.65:8271":   true,
		"224.0.0.1:1@eth0":    true,
		"[ff02::1]:8271@eth0": true,
		"127.0.0.1:8271":      false,
		"[::1]:8271":          false,
		":8271":               false,
	} {
		s, err := Parse(in)
		if err != nil {
			t.Fatal(err)
		}
		if got := s.IsMulticast(); got != want {
			t.Errorf("%q.IsMulticast() = %v, want %v", in, got, want)
		}
	}
}

func TestInterface(t *testing.T) {
	lo := netnstest.Loopback(t)

	t.Run("none", func(t *testing.T) {
		ifi, err := Spec{Addr: netip.MustParseAddrPort("127.0.0.1:1")}.Interface()
		if ifi != nil || err != nil {
			t.Fatalf("got %v, %v; want nil, nil", ifi, err)
		}
	})
	t.Run("by name", func(t *testing.T) {
		s, _ := Parse("127.0.0.1:1@" + lo.Name)
		ifi, err := s.Interface()
		if err != nil || ifi.Index != lo.Index {
			t.Fatalf("got %v, %v; want %s", ifi, err, lo.Name)
		}
	})
	for _, prefix := range []string{"127.0.0.0/8", "127.0.0.1/32", "::1/128"} {
		t.Run("by prefix "+prefix, func(t *testing.T) {
			s, _ := Parse("239.1.2.3:1@" + prefix)
			ifi, err := s.Interface()
			if err != nil {
				if prefix == "::1/128" {
					t.Skipf("no IPv6 on loopback: %v", err)
				}
				t.Fatal(err)
			}
			if ifi.Index != lo.Index {
				t.Fatalf("got %s, want %s", ifi.Name, lo.Name)
			}
		})
	}
	t.Run("missing name", func(t *testing.T) {
		s, _ := Parse("127.0.0.1:1@rgapnosuch0")
		_, err := s.Interface()
		if !errors.Is(err, ErrNoInterface) {
			t.Fatalf("err = %v, want ErrNoInterface", err)
		}
		if !strings.Contains(err.Error(), `"127.0.0.1:1@rgapnosuch0"`) {
			t.Errorf("error %q does not name the spec", err)
		}
	})
	t.Run("missing prefix", func(t *testing.T) {
		// TEST-NET-2 is documentation-only and never configured.
		s, _ := Parse("127.0.0.1:1@198.51.100.0/24")
		_, err := s.Interface()
		if !errors.Is(err, ErrNoInterface) {
			t.Fatalf("err = %v, want ErrNoInterface", err)
		}
		for _, want := range []string{`"127.0.0.1:1@198.51.100.0/24"`, "no interface has an address in 198.51.100.0/24"} {
			if !strings.Contains(err.Error(), want) {
				t.Errorf("error %q does not contain %q", err, want)
			}
		}
	})
}

func TestInterfaceInPrefix(t *testing.T) {
	ifaces := []net.Interface{{Index: 1, Name: "lo"}, {Index: 2, Name: "broken"}, {Index: 3, Name: "eth0"}, {Index: 4, Name: "eth1"}}
	cidr := func(s string) net.Addr {
		ip, n, err := net.ParseCIDR(s)
		if err != nil {
			t.Fatal(err)
		}
		n.IP = ip
		return n
	}
	addrs := map[string][]net.Addr{
		"lo":   {cidr("127.0.0.1/8"), cidr("::1/128")},
		"eth0": {cidr("fe80::1/64"), cidr("192.168.1.10/24"), &net.IPAddr{IP: net.ParseIP("10.9.9.9")}},
		"eth1": {cidr("192.168.2.10/24"), &net.UnixAddr{Name: "odd"}},
	}
	addrsOf := func(ifi *net.Interface) ([]net.Addr, error) {
		if ifi.Name == "broken" {
			return nil, errors.New("netlink says no")
		}
		return addrs[ifi.Name], nil
	}
	tests := []struct {
		prefix string
		want   string // "" means not found
	}{
		{"192.168.0.0/16", "eth0"}, // first in index order wins
		{"192.168.2.0/24", "eth1"},
		{"192.168.2.77/24", "eth1"}, // unmasked prefix still matches
		{"10.0.0.0/8", "eth0"},      // *net.IPAddr
		{"fe80::/10", "eth0"},
		{"::1/128", "lo"},
		{"172.16.0.0/12", ""},
	}
	for _, tt := range tests {
		t.Run(tt.prefix, func(t *testing.T) {
			ifi, err := interfaceInPrefix(ifaces, netip.MustParsePrefix(tt.prefix), addrsOf)
			if tt.want == "" {
				if !errors.Is(err, ErrNoInterface) {
					t.Fatalf("got %v, %v; want ErrNoInterface", ifi, err)
				}
				if !strings.Contains(err.Error(), "netlink says no") {
					t.Errorf("error %q hides the failing interface lookup", err)
				}
				return
			}
			if err != nil || ifi.Name != tt.want {
				t.Fatalf("got %v, %v; want %s", ifi, err, tt.want)
			}
		})
	}
}

func FuzzParse(f *testing.F) {
	for _, s := range []string{
		"239.82.71.65:8271", "239.82.71.65:8271@eth0", "239.82.71.65:8271@192.168.0.0/16",
		"[ff02::1]:8271@eth0", "[::1]:8271", ":8271", "[fe80::1%eth0]:1", "[::ffff:1.2.3.4]:5",
		"foo:1", "1.2.3.4:0", "1.2.3.4:1@", "1.2.3.4:1@@", "[::1]:1@::/0",
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		spec, err := Parse(s)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "address spec ") {
				t.Fatalf("error %q does not name the spec", err)
			}
			return
		}
		if spec.Iface != "" && spec.Prefix.IsValid() {
			t.Fatalf("Parse(%q) set both Iface and Prefix: %+v", s, spec)
		}
		if spec.Addr.Port() == 0 {
			t.Fatalf("Parse(%q) accepted port 0", s)
		}
		again, err := Parse(spec.String())
		if err != nil {
			t.Fatalf("Parse(%q) = %+v, but Parse(String()=%q) failed: %v", s, spec, spec.String(), err)
		}
		if again != spec {
			t.Fatalf("round trip of %q via %q: %+v != %+v", s, spec.String(), again, spec)
		}
	})
}
