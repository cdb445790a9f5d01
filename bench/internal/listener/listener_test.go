package listener

import (
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/bench/internal/traffic"
	"github.com/rgap-project/rgap/internal/config"
)

// hexPSK is any valid PSK; the package takes it as given.
const hexPSK = "5e1f0c2d3b4a59687786950a4b3c2d1e0ff0e1d2c3b4a5968778695a4b3c2d1e"

// TestConfigLoads checks that what the benchmarks give the listener is a
// configuration it accepts without warnings, with the values they rely on.
func TestConfigLoads(t *testing.T) {
	c := Config{
		Listen: netip.MustParseAddrPort("127.0.0.1:40123"), PSK: hexPSK, Groups: Groups(1000, 3),
		Expire: 5 * time.Minute, ReceiveBuffer: 8 << 20, HTTPListen: netip.MustParseAddrPort("127.0.0.1:40124"),
		Outputs: []Output{{Kind: "noop"}, {Kind: "log", Spec: []string{"interval: 60s"}}},
	}
	path := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(path, c.YAML("test"), 0o600); err != nil {
		t.Fatal(err)
	}
	cfg, err := config.Load(path)
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Warnings) > 0 {
		t.Errorf("warnings: %q", cfg.Warnings)
	}
	if len(cfg.Listen) != 1 || cfg.Listen[0].Spec.String() != "127.0.0.1:40123" {
		t.Errorf("listen = %+v, want only 127.0.0.1:40123", cfg.Listen)
	}
	if cfg.HTTPListen != "127.0.0.1:40124" {
		t.Errorf("http_listen = %q, want 127.0.0.1:40124 (metrics on)", cfg.HTTPListen)
	}
	if len(cfg.Outputs) != 2 || cfg.Outputs[1].Kind != "log" {
		t.Errorf("outputs = %+v, want noop and log", cfg.Outputs)
	}
	if cfg.ReceiveBuffer != 8<<20 {
		t.Errorf("receive_buffer = %d, want %d", cfg.ReceiveBuffer, 8<<20)
	}
	if len(cfg.Groups) != 3 {
		t.Fatalf("groups = %d, want 3", len(cfg.Groups))
	}
	for i, g := range cfg.Groups {
		if g.ID != 1000+uint64(i) || g.PSK.Hex() != hexPSK || g.Expire != 5*time.Minute || g.ReadinessDelay != 0 {
			t.Errorf("group %d = id %d expire %v readiness %v (psk matches: %v), want id %d expire 5m, ready at once",
				i, g.ID, g.Expire, g.ReadinessDelay, g.PSK.Hex() == hexPSK, 1000+i)
		}
	}
}

func TestFreeUDPPort(t *testing.T) {
	port, err := freeUDPPort()
	if err != nil {
		t.Fatal(err)
	}
	if port == 0 {
		t.Fatal("port 0")
	}
	c, err := net.ListenUDP("udp4", &net.UDPAddr{IP: traffic.Loopback.AsSlice(), Port: int(port)})
	if err != nil {
		t.Fatalf("the free port %d cannot be bound: %v", port, err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if !traffic.Loopback.IsLoopback() {
		t.Errorf("traffic.Loopback %v is not loopback", traffic.Loopback)
	}
}
