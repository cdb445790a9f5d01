// Package peercred authenticates the gRPC connection between the listener
// and an output plugin by asking the kernel who is at the other end of the
// unix socket (SO_PEERCRED), instead of by TLS.
//
// Why not go-plugin's AutoMTLS: it makes every plugin generate a P-521
// certificate at start and both ends run a TLS handshake. Measured on the
// reference configuration (listener and six outputs, bench `memory`), that
// cost 7 MiB of the 42 MiB total PSS: the P-521 generator table alone is
// 0.5 MiB of heap in every plugin process. And it protects less than the
// kernel's answer does. The socket lives in the listener's private runtime
// directory (mode 0700), so only processes of the same user (or root) can
// reach it at all; mTLS then keeps out those of them that cannot read the
// listener's memory, while a peer check keeps out every process except the
// one expected: the plugin accepts only its parent listener, and the
// listener talks only to the plugin process it started.
//
// A connection that is not a unix socket, or whose peer is not the
// expected process of the expected user, fails its handshake with an
// error naming what was found; gRPC then refuses every call on it.
package peercred

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"strconv"

	"google.golang.org/grpc/credentials"
)

// ErrPeer is wrapped by every refusal.
var ErrPeer = errors.New("peer refused")

// Peer is what the kernel says about the process at the other end.
type Peer struct {
	PID int
	UID int
}

// AuthInfo is the handshake's result as gRPC sees it (peer.Peer.AuthInfo).
type AuthInfo struct {
	credentials.CommonAuthInfo
	Peer Peer
}

// AuthType names the mechanism.
func (AuthInfo) AuthType() string { return "peercred" }

// Expect returns a check accepting only the process pid (any, when pid is
// 0) running as this process's user. pid is read at every handshake, so it
// may be set after the credentials are built (the plugin's PID is known
// only once it has started).
func Expect(pid func() int) func(Peer) error {
	uid := os.Getuid()
	return func(p Peer) error {
		if p.UID != uid {
			return fmt.Errorf("%w: process %d runs as uid %d, want %d", ErrPeer, p.PID, p.UID, uid)
		}
		if want := pid(); want != 0 && p.PID != want {
			return fmt.Errorf("%w: process %d is at the other end, want %d", ErrPeer, p.PID, want)
		}
		return nil
	}
}

// ExpectTree is Expect for a process that may have handed the connection
// to a child: it accepts root or any process descended from it, of this
// process's user. An out-of-tree plugin may be a wrapper script that starts
// the real plugin without exec.
func ExpectTree(root func() int) func(Peer) error {
	uid := os.Getuid()
	return func(p Peer) error {
		if p.UID != uid {
			return fmt.Errorf("%w: process %d runs as uid %d, want %d", ErrPeer, p.PID, p.UID, uid)
		}
		want := root()
		if want == 0 {
			return nil
		}
		pid := p.PID
		for range maxDepth {
			if pid == want {
				return nil
			}
			if pid <= 1 {
				break
			}
			pid = parentOf(pid)
		}
		return fmt.Errorf("%w: process %d at the other end is not %d or one of its descendants", ErrPeer, p.PID, want)
	}
}

// maxDepth bounds the walk up the process tree.
const maxDepth = 32

// parentOf reads pid's parent from /proc; 0 when it cannot.
func parentOf(pid int) int {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0
	}
	// "pid (comm) state ppid ...": comm may hold spaces and parentheses.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0
	}
	f := bytes.Fields(b[i+1:])
	if len(f) < 2 {
		return 0
	}
	ppid, err := strconv.Atoi(string(f[1]))
	if err != nil {
		return 0
	}
	return ppid
}

// New returns transport credentials that run check on the peer of every
// connection, client and server side alike.
func New(check func(Peer) error) credentials.TransportCredentials {
	return &creds{check: check}
}

type creds struct {
	check func(Peer) error
}

func (c *creds) ClientHandshake(_ context.Context, _ string, conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.handshake(conn)
}

func (c *creds) ServerHandshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	return c.handshake(conn)
}

func (c *creds) handshake(conn net.Conn) (net.Conn, credentials.AuthInfo, error) {
	p, err := Of(conn)
	if err == nil {
		err = c.check(p)
	}
	if err != nil {
		_ = conn.Close()
		return nil, nil, err
	}
	// Local to the machine and checked by the kernel: gRPC treats it like
	// its own "local" credentials for unix sockets.
	return conn, AuthInfo{CommonAuthInfo: credentials.CommonAuthInfo{SecurityLevel: credentials.PrivacyAndIntegrity}, Peer: p}, nil
}

func (c *creds) Info() credentials.ProtocolInfo {
	return credentials.ProtocolInfo{SecurityProtocol: "peercred"}
}

func (c *creds) Clone() credentials.TransportCredentials { return &creds{check: c.check} }

// OverrideServerName is deprecated in gRPC and meaningless here.
func (c *creds) OverrideServerName(string) error { return nil }
