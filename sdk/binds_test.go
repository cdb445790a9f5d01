package sdk_test

import (
	"context"
	"slices"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// server is a test output that binds the address in its spec.
type server struct {
	binds []sdk.Bind
	panic bool
}

func (s *server) Run(context.Context, *sdk.Env) error { return nil }

func (s *server) Binds() []sdk.Bind {
	if s.panic {
		panic("listing exploded")
	}
	return s.binds
}

func serverPlugin(panicky bool) sdk.Plugin {
	return sdk.Plugin{Name: "server", New: func(cfg *sdk.Config) (sdk.Output, error) {
		var sp struct {
			Listen string `yaml:"listen"`
		}
		if err := cfg.Decode(&sp); err != nil {
			return nil, err
		}
		return &server{panic: panicky, binds: []sdk.Bind{{Network: "udp", Address: sp.Listen}, {Network: "tcp4", Address: sp.Listen}}}, nil
	}}
}

// An Output that implements Binder has its addresses reported at
// validation, in its order; a plain Output reports none.
func TestValidateReportsBinds(t *testing.T) {
	got := sdktest.Binds(t, serverPlugin(false), "listen: 127.0.0.1:5353\n")
	want := []sdk.Bind{{Network: "udp", Address: "127.0.0.1:5353"}, {Network: "tcp4", Address: "127.0.0.1:5353"}}
	if !slices.Equal(got, want) {
		t.Errorf("binds = %v, want %v", got, want)
	}
	plain := sdk.Plugin{Name: "plain", New: func(*sdk.Config) (sdk.Output, error) { return panicky{}, nil }}
	if got := sdktest.Binds(t, plain, ""); len(got) != 0 {
		t.Errorf("binds of an output without Binds = %v, want none", got)
	}
}

// An invalid spec reports its diagnostics and no binds; a panic in Binds is
// a diagnostic naming the plugin's bug, not a crash of the plugin.
func TestValidateBindsProblems(t *testing.T) {
	got := sdktest.Validate(t, serverPlugin(false), "lisen: :53\n")
	if len(got) != 1 || got[0].Key != "lisen" {
		t.Errorf("diagnostics = %q, want one for the unknown key", got)
	}
	got = sdktest.Validate(t, serverPlugin(true), "listen: :53\n")
	if len(got) != 1 || !strings.Contains(got[0].Message, "listing exploded") || !strings.Contains(got[0].Message, "bug in the plugin") {
		t.Errorf("diagnostics = %q, want one naming the panic in Binds", got)
	}
}
