package source

import (
	"net"
	"net/netip"

	"golang.org/x/net/ipv4"
	"golang.org/x/net/ipv6"
	"golang.org/x/sys/unix"
)

// portableReader reads through golang.org/x/net's PacketConn.ReadBatch:
// recvmmsg on Linux, one recvmsg per call elsewhere. It allocates a source
// address per datagram, which is why Linux uses mmsgReader instead.
type portableReader struct {
	pc interface {
		ReadBatch(ms []ipv4.Message, flags int) (int, error)
	}
	bufs [][]byte
	msgs []ipv4.Message // ipv4.Message and ipv6.Message are the same type
}

func newPortableReader(conn *net.UDPConn, bound netip.Addr, bufs [][]byte) *portableReader {
	r := &portableReader{bufs: bufs, msgs: make([]ipv4.Message, len(bufs))}
	if bound.Is4() {
		r.pc = ipv4.NewPacketConn(conn)
	} else {
		r.pc = ipv6.NewPacketConn(conn)
	}
	for i := range r.msgs {
		r.msgs[i].Buffers = bufs[i : i+1]
	}
	return r
}

func (r *portableReader) readBatch(out [][]byte) (n, truncated int, err error) {
	n, err = r.pc.ReadBatch(r.msgs[:len(out)], 0)
	if err != nil {
		return 0, 0, err
	}
	for i := range n {
		m := &r.msgs[i]
		out[i] = r.bufs[i][:m.N]
		if m.Flags&unix.MSG_TRUNC != 0 {
			truncated++
		}
	}
	return n, truncated, nil
}
