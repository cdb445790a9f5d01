package agent

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// setMulticastInterface makes the socket send multicast out of ifi.
func setMulticastInterface(fd uintptr, v4 bool, ifi *net.Interface) error {
	var err error
	if v4 {
		err = unix.SetsockoptIPMreqn(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_IF, &unix.IPMreqn{Ifindex: int32(ifi.Index)})
	} else {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_IF, ifi.Index)
	}
	if err != nil {
		return fmt.Errorf("send multicast via interface %q: %w", ifi.Name, err)
	}
	return nil
}
