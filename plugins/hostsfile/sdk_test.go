package hostsfile

import (
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var far = time.Now().Add(time.Hour)

// TestREADMEExample runs the README's example through the SDK and checks
// the file the README says it produces.
func TestREADMEExample(t *testing.T) {
	specs := sdktest.SpecsFromMarkdown(t, "README.md", "hostsfile")
	for i, spec := range specs {
		dir := t.TempDir()
		t.Chdir(dir) // the example's filename is relative
		path := filepath.Join(dir, "hosts")
		h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1000})
		h.Join(1000, netip.MustParseAddr("10.0.0.7"), far)
		h.Join(1000, netip.MustParseAddr("10.0.0.3"), far)
		h.Sync()
		if _, err := os.Stat(path); !os.IsNotExist(err) {
			t.Fatalf("example %d: file written before the group was ready (stat: %v)", i, err)
		}
		h.Ready(1000)
		h.Sync()
		sdktest.Eventually(t, "file with the members", fileIs(path, `# Written by rgap: manual changes are overwritten
127.0.0.1 localhost
10.0.0.3 worker
10.0.0.7 worker
# end of rgap entries
`))
		h.Leave(1000, netip.MustParseAddr("10.0.0.7"))
		h.Leave(1000, netip.MustParseAddr("10.0.0.3"))
		sdktest.Eventually(t, "file with the fallback addresses", fileIs(path, `# Written by rgap: manual changes are overwritten
127.0.0.1 localhost
1.2.3.4 worker
5.6.7.8 worker
# end of rgap entries
`))
		h.Stop()
	}
}

// referenceSpec is the hostsfile spec of the reference implementation's
// configuration example, which must keep working unchanged.
const referenceSpec = `interval: 5s
filename: hosts
mappings:
  - group: 1000
    hostname: worker
    fallback_addresses:
      - 1.2.3.4
      - 5.6.7.8
prepend_lines:
  - "# Auto-generated hosts file"
  - "# Do not edit manually, changes will be overwritten by RGAP"
append_lines:
  - "# End of auto-generated file"
`

func TestReferenceExample(t *testing.T) {
	dir := t.TempDir()
	t.Chdir(dir)
	h := sdktest.Start(t, Plugin, referenceSpec, sdk.GroupInfo{ID: 1000, ReadinessDelay: 15 * time.Second})
	h.Ready(1000)
	h.Sync()
	sdktest.Eventually(t, "fallback file", fileIs(filepath.Join(dir, "hosts"), `# Auto-generated hosts file
# Do not edit manually, changes will be overwritten by RGAP
1.2.3.4 worker
5.6.7.8 worker
# End of auto-generated file
`))
	h.Join(1000, netip.MustParseAddr("2001:db8::5"), far)
	h.Join(1000, netip.MustParseAddr("::ffff:192.0.2.10"), far)
	sdktest.Eventually(t, "file with members", fileIs(filepath.Join(dir, "hosts"), `# Auto-generated hosts file
# Do not edit manually, changes will be overwritten by RGAP
192.0.2.10 worker
2001:db8::5 worker
# End of auto-generated file
`))
}

// TestSDKSubscriptionAndResync checks the subscription and that a resync
// snapshot from the core is written without waiting for the interval.
func TestSDKSubscriptionAndResync(t *testing.T) {
	path := filepath.Join(t.TempDir(), "hosts")
	spec := "interval: 1h\nfilename: " + path + `
mappings:
  - {group: 2, hostname: b}
  - {group: 1, hostname: a}
  - {group: 2, hostname: b2}
`
	h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2}, sdk.GroupInfo{ID: 3})
	if all, groups := h.Subscription(); all || len(groups) != 2 || groups[0] != 1 || groups[1] != 2 {
		t.Fatalf("subscription = %v %v, want groups 1 and 2", all, groups)
	}
	h.Ready(1)
	h.Join(1, netip.MustParseAddr("10.0.0.1"), far)
	h.Sync()
	if _, err := os.Stat(path); !os.IsNotExist(err) {
		t.Fatalf("file written while group 2 was not ready (stat: %v)", err)
	}
	h.Snapshot(
		sdktest.GroupState{ID: 1, Ready: true, Members: []sdk.Member{{Addr: netip.MustParseAddr("10.0.0.2"), Expires: far}}},
		sdktest.GroupState{ID: 2, Ready: true, Members: []sdk.Member{{Addr: netip.MustParseAddr("fd00::2"), Expires: far}}},
	)
	sdktest.Eventually(t, "file after resync", fileIs(path, "fd00::2 b\n10.0.0.2 a\nfd00::2 b2\n"))
	h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "hosts file written" && e.Arg("file") == path })
}

// TestMetricsCountWrites: writes_total counts the times the file got new
// content (not the renders that changed nothing), write_errors_total the
// failed attempts.
func TestMetricsCountWrites(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "hosts")
	spec := "interval: 1h\nfilename: " + path + "\nmappings:\n  - group: 1\n    hostname: web\n"
	h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1, Expire: time.Minute})
	h.Ready(1)
	h.Join(1, netip.MustParseAddr("10.0.0.1"), far)
	h.Sync()
	sdktest.Eventually(t, "a write counted", func() bool { return h.Metrics()["writes_total"] >= 1 })
	h.Join(1, netip.MustParseAddr("10.0.0.2"), far)
	h.Sync()
	sdktest.Eventually(t, "the second member written", func() bool {
		b, _ := os.ReadFile(path) // both members: the write before may hold only the first
		return string(b) == "10.0.0.1 web\n10.0.0.2 web\n" && h.Metrics()["writes_total"] >= 2
	})
	if err := os.Remove(path); err != nil {
		t.Fatal(err)
	}
	if err := os.Mkdir(path, 0o700); err != nil { // a directory cannot be replaced
		t.Fatal(err)
	}
	h.Join(1, netip.MustParseAddr("10.0.0.3"), far)
	h.Sync()
	sdktest.Eventually(t, "a write error counted", func() bool { return h.Metrics()["write_errors_total"] == 1 })
	if got := h.Metrics()["writes_total"]; got < 2 || got > 3 {
		t.Errorf("writes_total = %v, want 2 or 3 (renders without change are no writes)", got)
	}
}
