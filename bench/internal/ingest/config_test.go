package ingest

import (
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/config"
)

// TestListenerConfigLoads checks that the configuration given to the
// listener is one it accepts, with the values the measurement relies on.
func TestListenerConfigLoads(t *testing.T) {
	path := filepath.Join(t.TempDir(), "bench.yaml")
	if err := os.WriteFile(path, []byte(listenerConfig(40123, 40124)), 0o600); err != nil {
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
	if len(cfg.Outputs) != 0 {
		t.Errorf("outputs = %+v, want none", cfg.Outputs)
	}
	if cfg.ReceiveBuffer != listenerReceiveBuffer {
		t.Errorf("receive_buffer = %d, want %d", cfg.ReceiveBuffer, listenerReceiveBuffer)
	}
	if len(cfg.Groups) != 1 {
		t.Fatalf("groups = %d, want 1", len(cfg.Groups))
	}
	g := cfg.Groups[0]
	if g.ID != benchGroup || g.PSK.Hex() != benchPSK || g.Expire != 5*time.Minute || g.ClockSkew != 5*time.Minute {
		t.Errorf("group = id %d expire %v skew %v (psk matches: %v), want id %d expire 5m skew 5m with the bench PSK",
			g.ID, g.Expire, g.ClockSkew, g.PSK.Hex() == benchPSK, benchGroup)
	}
}
