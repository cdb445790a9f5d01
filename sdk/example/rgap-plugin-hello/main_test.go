package main

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var hello = sdk.Plugin{Name: "hello", Version: "test", New: New}

func TestHelloGreetsMembersOnceReady(t *testing.T) {
	h := sdktest.Start(t, hello, "group: 1000\ngreeting: Welcome\n", sdk.GroupInfo{ID: 1000}, sdk.GroupInfo{ID: 2000})
	if all, groups := h.Subscription(); all || !slices.Equal(groups, []uint64{1000}) {
		t.Fatalf("subscribed to %v (all %v), want group 1000", groups, all)
	}
	h.Join(1000, netip.MustParseAddr("10.0.0.7"), time.Now().Add(time.Minute))
	h.Ready(1000)
	h.Sync()
	h.WaitLog(func(e sdktest.LogEntry) bool {
		return e.Message == "Welcome" && e.Arg("address") == "10.0.0.7" && e.Arg("group") == "1000"
	})
}

func TestHelloDiagnostics(t *testing.T) {
	tests := []struct {
		spec string
		want sdktest.Diagnostic
	}{
		{"greeting: Hi\n", sdktest.Diagnostic{Key: "group", Line: 1, Message: "required: the id of the group to greet"}},
		{"greeting: Hi\ngroup: 5\n", sdktest.Diagnostic{Key: "group", Line: 2, Message: "group 5 is not configured in the listener"}},
		{"group: 1000\ngreting: Hi\n", sdktest.Diagnostic{Key: "greting", Line: 2, Message: "unknown key (valid keys here: group, greeting)"}},
	}
	for _, tt := range tests {
		got := sdktest.Validate(t, hello, tt.spec, sdk.GroupInfo{ID: 1000})
		if !slices.Equal(got, []sdktest.Diagnostic{tt.want}) {
			t.Errorf("Validate(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}
