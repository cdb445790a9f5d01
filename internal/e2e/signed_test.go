package e2e

import (
	"fmt"
	"net"
	"testing"

	"github.com/rgap-project/rgap/internal/protocol"
)

// groupKey is the key that signs a group's announcements, from its
// hex-encoded PSK.
func groupKey(t *testing.T, pskHex string) *protocol.Key {
	t.Helper()
	psk, err := protocol.ParsePSK(pskHex)
	if err != nil {
		t.Fatal(err)
	}
	return protocol.NewKey(psk)
}

// dialListener is a UDP socket to the listener on 127.0.0.1:port, closed
// when the test ends.
func dialListener(t *testing.T, port int) net.Conn {
	t.Helper()
	c, err := net.Dial("udp4", fmt.Sprintf("127.0.0.1:%d", port))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() }) // a UDP socket: closing it loses nothing sent
	return c
}
