//go:build linux

package peercred

import (
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// Of asks the kernel for the credentials of conn's peer.
func Of(conn net.Conn) (Peer, error) {
	uc, ok := conn.(*net.UnixConn)
	if !ok {
		return Peer{}, fmt.Errorf("%w: a %T is not a unix socket", ErrPeer, conn)
	}
	raw, err := uc.SyscallConn()
	if err != nil {
		return Peer{}, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	var cred *unix.Ucred
	var credErr error
	if err := raw.Control(func(fd uintptr) {
		cred, credErr = unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED)
	}); err != nil {
		return Peer{}, fmt.Errorf("%w: %w", ErrPeer, err)
	}
	if credErr != nil {
		return Peer{}, fmt.Errorf("%w: SO_PEERCRED: %w", ErrPeer, credErr)
	}
	return Peer{PID: int(cred.Pid), UID: int(cred.Uid)}, nil
}
