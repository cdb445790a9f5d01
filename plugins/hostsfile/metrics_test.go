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
