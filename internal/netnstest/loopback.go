package netnstest

import (
	"net"
	"testing"
)

// Loopback returns the machine's loopback interface, the only interface a
// test outside a private namespace may name (as in "@lo"). The test is
// skipped on a machine without one.
func Loopback(t testing.TB) net.Interface {
	t.Helper()
	ifaces, err := net.Interfaces()
	if err != nil {
		t.Fatalf("netnstest: listing interfaces: %v", err)
	}
	for _, ifi := range ifaces {
		if ifi.Flags&net.FlagLoopback != 0 {
			return ifi
		}
	}
	t.Skip("no loopback interface on this machine")
	return net.Interface{}
}
