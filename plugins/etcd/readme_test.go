package etcd

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestREADME: the README has the sections of the plugin guide
// (plugins/README.md), in its order, and its configuration table lists
// exactly the keys the spec accepts.
func TestREADME(t *testing.T) {
	sdktest.CheckREADME(t, "README.md", "etcd", spec{})
}

// TestREADMEExamples: every example is valid, and those that need neither
// TLS nor a password publish group 1000 to a real etcd.
func TestREADMEExamples(t *testing.T) {
	specs := sdktest.SpecsFromMarkdown(t, "README.md", "etcd")
	groups := []sdk.GroupInfo{{ID: 1000}, {ID: 2000}}
	var srv *etcdtest.Server
	for i, spec := range specs {
		if d := sdktest.Validate(t, Plugin, spec, groups...); len(d) != 0 {
			t.Fatalf("example %d: %v", i, d)
		}
		if strings.Contains(spec, "https://") {
			continue
		}
		if srv == nil {
			srv = etcdtest.Start(t)
		}
		spec = strings.ReplaceAll(spec, "http://127.0.0.1:2379", srv.Endpoint())
		h := sdktest.Start(t, Plugin, spec, groups...)
		h.Join(1000, netip.MustParseAddr("10.0.0.7"), time.Time{})
		h.Ready(1000)
		h.Sync()
		prefix := "/rgap/groups/1000/members/lb1/10.0.0.7"
		if strings.Contains(spec, "skydns") {
			prefix = "/skydns/com/example/app/" + hostname() + "-10.0.0.7"
		}
		cli := srv.Client()
		sdktest.Eventually(t, "key "+prefix, func() bool { return len(etcdtest.Keys(t, cli, prefix)) == 1 })
		h.Stop()
	}
}
