package protocol

import (
	"errors"
	"net/netip"
	"testing"
)

func TestCheckAddress(t *testing.T) {
	tests := []struct {
		addr string
		want string // "" = accepted
	}{
		{"192.0.2.10", ""},
		{"127.0.0.1", ""},
		{"::1", ""},
		{"2001:db8::1", ""},
		{"10.1.2.3", ""},
		{"::ffff:192.0.2.10", ""},
		{"0.0.0.0", "unspecified address is not a unicast host address"},
		{"::", "unspecified address is not a unicast host address"},
		{"::ffff:0.0.0.0", "unspecified address is not a unicast host address"},
		{"224.0.0.1", "multicast address is not a unicast host address"},
		{"239.82.71.65", "multicast address is not a unicast host address"},
		{"ff02::1", "multicast address is not a unicast host address"},
		{"::ffff:224.0.0.1", "multicast address is not a unicast host address"},
		{"255.255.255.255", "limited-broadcast address is not a unicast host address"},
		{"169.254.1.1", "link-local address is not a unicast host address"},
		{"fe80::1", "link-local address is not a unicast host address"},
	}
	for _, tt := range tests {
		err := CheckAddress(netip.MustParseAddr(tt.addr))
		if tt.want == "" {
			if err != nil {
				t.Errorf("CheckAddress(%s) = %v, want accepted", tt.addr, err)
			}
			continue
		}
		if err == nil || err.Error() != tt.want || !errors.Is(err, ErrAddress) {
			t.Errorf("CheckAddress(%s) = %v, want %q wrapping ErrAddress", tt.addr, err, tt.want)
		}
	}
	if err := CheckAddress(netip.Addr{}); !errors.Is(err, ErrAddress) {
		t.Errorf("CheckAddress(zero) = %v, want ErrAddress", err)
	}
}

func TestCheckAddressAllocs(t *testing.T) {
	a := netip.MustParseAddr("ff02::1")
	if n := testing.AllocsPerRun(100, func() { _ = CheckAddress(a) }); n != 0 {
		t.Fatalf("CheckAddress allocates %v times", n)
	}
}
