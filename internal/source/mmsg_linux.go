package source

import (
	"fmt"
	"net"
	"syscall"
	"unsafe"

	"golang.org/x/sys/unix"
)

// mmsgReader calls recvmmsg(2) itself with headers built once, and asks for
// no source address, so a read allocates nothing.
type mmsgReader struct {
	rc   syscall.RawConn
	bufs [][]byte
	iovs []unix.Iovec
	hdrs []unix.Mmsghdr

	// State of the call in progress, shared with recv, which is bound to
	// this reader once so that passing it to rc.Read does not allocate.
	want  int
	n     int
	errno syscall.Errno
	recv  func(fd uintptr) bool
}

func newMmsgReader(conn *net.UDPConn, bufs [][]byte) (batchReader, error) {
	rc, err := conn.SyscallConn()
	if err != nil {
		return nil, fmt.Errorf("raw socket: %w", err)
	}
	r := &mmsgReader{
		rc:   rc,
		bufs: bufs,
		iovs: make([]unix.Iovec, len(bufs)),
		hdrs: make([]unix.Mmsghdr, len(bufs)),
	}
	for i := range bufs {
		r.iovs[i].Base = &bufs[i][0]
		r.iovs[i].SetLen(len(bufs[i]))
		r.hdrs[i].Hdr.Iov = &r.iovs[i]
		r.hdrs[i].Hdr.SetIovlen(1)
	}
	r.recv = r.recvmmsg
	return r, nil
}

// recvmmsg is the syscall.RawConn.Read callback: false means "would block,
// wait for the socket to become readable and call again".
func (r *mmsgReader) recvmmsg(fd uintptr) bool {
	for {
		n, _, errno := unix.Syscall6(unix.SYS_RECVMMSG, fd,
			uintptr(unsafe.Pointer(&r.hdrs[0])), uintptr(r.want), 0, 0, 0)
		switch errno {
		case 0:
			r.n, r.errno = int(n), 0
			return true
		case unix.EINTR:
			continue
		case unix.EAGAIN:
			return false
		default:
			r.n, r.errno = 0, errno
			return true
		}
	}
}

func (r *mmsgReader) readBatch(out [][]byte) (n, truncated int, err error) {
	r.want = min(len(out), len(r.hdrs))
	if err := r.rc.Read(r.recv); err != nil {
		return 0, 0, err
	}
	if r.errno != 0 {
		return 0, 0, fmt.Errorf("recvmmsg: %w", r.errno)
	}
	for i := range r.n {
		h := &r.hdrs[i]
		out[i] = r.bufs[i][:h.Len]
		if h.Hdr.Flags&unix.MSG_TRUNC != 0 {
			truncated++
		}
	}
	return r.n, truncated, nil
}
