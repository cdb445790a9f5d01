package listener

import (
	"slices"
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
