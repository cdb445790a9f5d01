//go:build unix && !linux

package source

import (
	"errors"
	"fmt"
	"syscall"

	"golang.org/x/sys/unix"
)

func setReceiveBuffer(fd uintptr, size int, _ bool) (int, error) {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
		return 0, fmt.Errorf("set SO_RCVBUF to %d: %w", size, err)
	}
	got, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("get SO_RCVBUF: %w", err)
	}
	return got, nil
}

func grantedReceiveBuffer(reported int) int { return reported }

func setReuseAddr(fd uintptr) error {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("set SO_REUSEADDR: %w", err)
	}
	return nil
}

func bindToDevice(uintptr, string) error {
	return errors.New("binding a unicast socket to an interface is only supported on Linux")
}

// udpSocket creates a close-on-exec UDP socket. (net.FilePacketConn makes
// its duplicate non-blocking.)
func udpSocket(family int) (int, error) {
	syscall.ForkLock.RLock()
	defer syscall.ForkLock.RUnlock()
	fd, err := unix.Socket(family, unix.SOCK_DGRAM, unix.IPPROTO_UDP)
	if err != nil {
		return -1, err
	}
	unix.CloseOnExec(fd)
	return fd, nil
}

// onlyJoinedGroups is a no-op outside Linux, where a socket receives only
// the groups it joined.
func onlyJoinedGroups(uintptr, bool) error { return nil }
