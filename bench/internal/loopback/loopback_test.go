package loopback

import (
	"net"
	"testing"
)

func TestFreeUDPPort(t *testing.T) {
	port, err := FreeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	if port == 0 {
		t.Fatal("port 0")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: Addr.AsSlice(), Port: int(port)})
	if err != nil {
		t.Fatalf("the free port %d cannot be bound: %v", port, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !Addr.IsLoopback() {
		t.Errorf("Addr %v is not loopback", Addr)
	}
}
