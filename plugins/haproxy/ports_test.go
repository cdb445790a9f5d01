package haproxy

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// runOn runs the output configured by text against groups until the test ends.
func runOn(t *testing.T, text string, groups *sdktest.FakeGroups) {
	t.Helper()
	var sp spec
	sdktest.DecodeSpec(t, text, &sp)
	s, err := sp.validate([]sdk.GroupInfo{{ID: 1, Expire: time.Minute}}, sdktest.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	o := &output{settings: s}
	log := sdktest.NewLogSink(t, hclog.Debug).Logger()
	go func() { done <- o.run(ctx, groups, log) }()
	t.Cleanup(func() {
		cancel()
		if err := <-done; err != nil {
			t.Errorf("run: %v", err)
		}
	})
}

// TestMemberPortAndWeight: a member's announced port wins over the
// mapping's, its weight becomes the server's (scaled beyond 256), and a
// member without a weight leaves the server's weight alone; in both modes.
// (The members come from a fake mirror: the listener does not carry ports
// and weights to plugins yet.)
func TestMemberPortAndWeight(t *testing.T) {
	members := []sdk.Member{
		{Addr: ip("127.0.0.21"), Port: 9001, Weight: 1000},
		{Addr: ip("127.0.0.22"), Weight: 500},
		{Addr: ip("127.0.0.23"), Port: 9003},
	}
	t.Run("slots", func(t *testing.T) {
		f := newFakeHAP(t)
		f.template("be", "rgap", 3)
		f.up(t)
		var g sdktest.FakeGroups
		g.Set(1, true, members...)
		runOn(t, "socket: "+f.path+"\nmappings:\n  - group: 1\n    backend: be\n    port: 8080\n", &g)
		waitServers(t, f, "be", "rgap1 127.0.0.21:9001 ready 256", "rgap2 127.0.0.22:8080 ready 128", "rgap3 127.0.0.23:9003 ready 1")
	})
	t.Run("dynamic", func(t *testing.T) {
		f := newFakeHAP(t)
		f.static("be", "static1", "127.0.0.9", 80)
		f.up(t)
		var g sdktest.FakeGroups
		g.Set(1, true, members...)
		runOn(t, "socket: "+f.path+"\nmappings:\n  - group: 1\n    backend: be\n    mode: dynamic\n    port: 8080\n", &g)
		waitServers(t, f, "be", "static1 127.0.0.9:80 ready 1", "rgap_127.0.0.21_9001 127.0.0.21:9001 ready 256",
			"rgap_127.0.0.22_8080 127.0.0.22:8080 ready 128", "rgap_127.0.0.23_9003 127.0.0.23:9003 ready 1")
		// A weight that changes is set on the server in place.
		g.Set(1, true, sdk.Member{Addr: ip("127.0.0.21"), Port: 9001, Weight: 7})
		waitServers(t, f, "be", "static1 127.0.0.9:80 ready 1", "rgap_127.0.0.21_9001 127.0.0.21:9001 ready 7")
	})
}

// TestWeightChangeReachesHAProxy: a member that stays live and announces a
// new weight (a protocol-2 agent restarted with another --weight) gets the
// new weight in HAProxy, in both modes. The host delivers a weight change
// only as an expiry update, which it sends only to plugins that ask for
// them: the harness models that.
func TestWeightChangeReachesHAProxy(t *testing.T) {
	for _, tc := range []struct {
		mode, spec, before, after string
	}{
		{"slots", "", "rgap1 127.0.0.21:9001 ready 10", "rgap1 127.0.0.21:9001 ready 20"},
		{"dynamic", "    mode: dynamic\n", "static1 127.0.0.9:80 ready 1|rgap_127.0.0.21_9001 127.0.0.21:9001 ready 10",
			"static1 127.0.0.9:80 ready 1|rgap_127.0.0.21_9001 127.0.0.21:9001 ready 20"},
	} {
		t.Run(tc.mode, func(t *testing.T) {
			f := newFakeHAP(t)
			if tc.mode == "slots" {
				f.template("be", "rgap", 1)
			} else {
				f.static("be", "static1", "127.0.0.9", 80)
			}
			f.up(t)
			h := f.startOutput(t, "reconcile_interval: 1h\nmappings:\n  - group: 1\n    backend: be\n    port: 8080\n"+tc.spec)
			h.Ready(1)
			h.JoinMember(1, sdk.Member{Addr: ip("127.0.0.21"), Port: 9001, Weight: 10, Expires: far})
			h.Sync()
			waitServers(t, f, "be", strings.Split(tc.before, "|")...)
			h.UpdateMember(1, sdk.Member{Addr: ip("127.0.0.21"), Port: 9001, Weight: 20, Expires: far.Add(time.Second)})
			h.Sync()
			waitServers(t, f, "be", strings.Split(tc.after, "|")...)
		})
	}
}
