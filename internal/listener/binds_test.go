package listener

import (
	"context"
	"errors"
	"slices"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/netspec"
)

// The listen entries are described to the bind check as package source
// binds them.
func TestListenBinds(t *testing.T) {
	tests := []struct {
		spec string
		want bindcheck.Bind
	}{
		{":8271", bindcheck.Bind{Network: "udp", Address: ":8271"}},
		{"127.0.0.1:8271", bindcheck.Bind{Network: "udp4", Address: "127.0.0.1:8271"}},
		{"0.0.0.0:8271@eth0", bindcheck.Bind{Network: "udp4", Address: "0.0.0.0:8271"}},
		{"[::1]:8271", bindcheck.Bind{Network: "udp6", Address: "[::1]:8271"}},
		{"[::ffff:10.0.0.1]:8271", bindcheck.Bind{Network: "udp4", Address: "10.0.0.1:8271"}},
		{"239.82.71.65:8271@10.0.0.0/8", bindcheck.Bind{Network: "udp4", Address: "239.82.71.65:8271", Shared: true}},
		{"[ff15::52]:8271", bindcheck.Bind{Network: "udp6", Address: "[ff15::52]:8271", Shared: true}},
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			spec, err := netspec.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			got := listenBinds([]config.Listen{{Spec: spec, Pos: config.Pos{File: "rgap.yaml", Line: 3, Column: 5}}})
			tt.want.Owner = "listen entry " + spec.String() + " at rgap.yaml:3:5"
			if !slices.Equal(got, []bindcheck.Bind{tt.want}) {
				t.Errorf("listenBinds = %+v, want %+v", got, tt.want)
			}
		})
	}
}

// TestCheckSockets: `rgap check` (Check, the code a reload and the start
// share) refuses two of the configuration's own sockets on one address,
// naming both, and passes distinct ones.
func TestCheckSockets(t *testing.T) {
	tests := []struct {
		name       string
		listen     []string
		httpListen string
		want       string // "" valid, else a substring of the error
	}{
		{"distinct", []string{"127.0.0.1:8271", "127.0.0.1:8272"}, "127.0.0.1:8271", ""},
		{"dual-stack over an IPv4 address", []string{":8271", "127.0.0.1:8271"},
			"", "listen entry 127.0.0.1:8271 at rgap.yaml:2:1 binds udp4 127.0.0.1:8271, which overlaps udp :8271 (every address) bound by listen entry :8271 at rgap.yaml:1:1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			cfg := &config.Config{Path: "rgap.yaml", HTTPListen: tt.httpListen}
			for i, s := range tt.listen {
				spec, err := netspec.Parse(s)
				if err != nil {
					t.Fatal(err)
				}
				cfg.Listen = append(cfg.Listen, config.Listen{Spec: spec, Pos: config.Pos{File: "rgap.yaml", Line: i + 1, Column: 1}})
			}
			err := Check(context.Background(), cfg, Options{})
			if tt.want == "" && err != nil {
				t.Fatalf("Check: %v, want valid", err)
			}
			if tt.want != "" && (!errors.Is(err, bindcheck.ErrClash) || !strings.Contains(err.Error(), tt.want)) {
				t.Fatalf("Check: %v, want a clash naming %q", err, tt.want)
			}
		})
	}
}
