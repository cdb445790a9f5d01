package etcd

import (
	"strings"
	"testing"

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
	groups := []sdk.GroupInfo{{ID: 1000}, {ID: 2000}}
	var f *etcdFixture
	for _, spec := range sdktest.CheckExamples(t, Plugin, "README.md", groups...) {
		if strings.Contains(spec, "https://") {
			continue
		}
		if f == nil {
			f = newFixture(t)
		}
		spec = strings.ReplaceAll(spec, "http://127.0.0.1:2379", f.srv.Endpoint())
		h := sdktest.Start(t, Plugin, spec, groups...)
		joinReady(h, 1000, "10.0.0.7")
		prefix := "/rgap/groups/1000/members/lb1/10.0.0.7"
		if strings.Contains(spec, "skydns") {
			prefix = "/skydns/com/example/app/" + hostname() + "-10.0.0.7"
		}
		sdktest.Eventually(t, "key "+prefix, func() bool { return len(f.keys(t, prefix)) == 1 })
		h.Stop()
	}
}
