//go:build unix && !linux

package source

import (
	"errors"
	"syscall"

	"golang.org/x/sys/unix"
)

// forceReceiveBuffer fails outside Linux, which alone has SO_RCVBUFFORCE.
func forceReceiveBuffer(uintptr, int) error { return errors.ErrUnsupported }

func grantedReceiveBuffer(reported int) int { return reported }

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
