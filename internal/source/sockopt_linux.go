package source

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// forceReceiveBuffer sets the socket's receive buffer with SO_RCVBUFFORCE,
// which succeeds with CAP_NET_ADMIN and ignores net.core.rmem_max.
func forceReceiveBuffer(fd uintptr, size int) error {
	return unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, size)
}

// grantedReceiveBuffer converts getsockopt(SO_RCVBUF) into the size that was
// granted: Linux doubles the requested value to leave room for its own
// bookkeeping and reports the doubled figure.
func grantedReceiveBuffer(reported int) int { return reported / 2 }

func bindToDevice(fd uintptr, name string) error {
	if err := unix.BindToDevice(int(fd), name); err != nil {
		return fmt.Errorf("bind to interface %q (SO_BINDTODEVICE): %w", name, err)
	}
	return nil
}

// udpSocket creates a close-on-exec UDP socket. (net.FilePacketConn makes
// its duplicate non-blocking.)
func udpSocket(family int) (int, error) {
	return unix.Socket(family, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, unix.IPPROTO_UDP)
}

// onlyJoinedGroups clears IP_MULTICAST_ALL / IPV6_MULTICAST_ALL. Linux
// otherwise delivers a group's datagrams to every socket bound to the group
// and port, whichever interface they arrived on, as long as any socket on
// the host joined the group there; cleared, the socket receives only what
// arrives on the interfaces it joined itself.
func onlyJoinedGroups(fd uintptr, v4 bool) error {
	var err error
	if v4 {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IP, unix.IP_MULTICAST_ALL, 0)
	} else {
		err = unix.SetsockoptInt(int(fd), unix.IPPROTO_IPV6, unix.IPV6_MULTICAST_ALL, 0)
	}
	if err != nil {
		return fmt.Errorf("clear multicast-all: %w", err)
	}
	return nil
}
