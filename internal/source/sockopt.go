//go:build unix

package source

import (
	"fmt"

	"golang.org/x/sys/unix"
)

// setReceiveBuffer sets the socket's receive buffer to size bytes, trying
// forceReceiveBuffer first when force is set, and returns what getsockopt
// reports.
func setReceiveBuffer(fd uintptr, size int, force bool) (int, error) {
	if !force || forceReceiveBuffer(fd, size) != nil {
		if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, size); err != nil {
			return 0, fmt.Errorf("set SO_RCVBUF to %d: %w", size, err)
		}
	}
	got, err := unix.GetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF)
	if err != nil {
		return 0, fmt.Errorf("get SO_RCVBUF: %w", err)
	}
	return got, nil
}

func setReuseAddr(fd uintptr) error {
	if err := unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_REUSEADDR, 1); err != nil {
		return fmt.Errorf("set SO_REUSEADDR: %w", err)
	}
	return nil
}
