//go:build unix && !linux

package agent

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"

	"github.com/rgap-project/rgap/internal/netspec"
)

// setMulticastInterface makes the socket send multicast out of ifi. Outside
// Linux IPv4 names the interface by one of its addresses.
func setMulticastInterface(fd uintptr, v4 bool, ifi *net.Interface) error {
	if !v4 {
		if err := unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index); err != nil {
			return fmt.Errorf("send multicast via interface %q: %w", ifi.Name, err)
		}
		return nil
	}
	addrs, err := ifi.Addrs()
	if err != nil {
		return fmt.Errorf("addresses of interface %q: %w", ifi.Name, err)
	}
	for _, a := range addrs {
		if ip, ok := netspec.AddrOf(a); ok && ip.Is4() {
			if err := unix.SetsockoptInet4Addr(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, ip.As4()); err != nil {
				return fmt.Errorf("send multicast via interface %q: %w", ifi.Name, err)
			}
			return nil
		}
	}
	return fmt.Errorf("interface %q has no IPv4 address to send multicast from", ifi.Name)
}
