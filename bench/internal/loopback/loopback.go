// Package loopback holds the addresses the benchmark tools under
// internal/bench (never the product) send their traffic to: they flood
// their targets, so every socket they use is on 127.0.0.1 and never
// leaves the machine.
package loopback

import (
	"fmt"
	"net"
	"net/netip"
)

// Addr is 127.0.0.1, where every benchmark socket listens.
var Addr = netip.AddrFrom4([4]byte{127, 0, 0, 1})

// FreeUDPPort asks the kernel for a UDP port on 127.0.0.1 that is free
// now. Another process may take it before the caller binds it; a caller
// that cannot afford that retries with another.
func FreeUDPPort() (uint16, error) {
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free UDP port: %w", err)
	}
	port := uint16(c.LocalAddr().(*net.UDPAddr).Port)
	if err := c.Close(); err != nil {
		return 0, fmt.Errorf("find a free UDP port: free %d: %w", port, err)
	}
	return port, nil
}

// FreeTCPPort returns a TCP port on 127.0.0.1 that was free a moment ago.
func FreeTCPPort() (uint16, error) {
	l, err := net.ListenTCP("tcp4", &net.TCPAddr{IP: net.IPv4(127, 0, 0, 1)})
	if err != nil {
		return 0, fmt.Errorf("find a free TCP port: %w", err)
	}
	port := uint16(l.Addr().(*net.TCPAddr).Port) //nolint:gosec // a port number fits
	if err := l.Close(); err != nil {
		return 0, fmt.Errorf("find a free TCP port: free %d: %w", port, err)
	}
	return port, nil
}
