package command

import (
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// TestMetricsCountRuns: every attempt is counted by result, and its time
// is added to the duration sum.
func TestMetricsCountRuns(t *testing.T) {
	dir := t.TempDir()
	marker := filepath.Join(dir, "ran")
	// The first attempt fails with exit status 3, the retry succeeds.
	cmd := script(t, dir, `if [ -e "$1" ]; then exit 0; fi; : > "$1"; sleep 0.1; exit 3`+"\n")
	spec := "group: 7\nretries: 2\ncommand: [" + strconv.Quote(cmd) + ", " + strconv.Quote(marker) + "]\n"
	h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 7})
	h.Ready(7)
	h.Sync()
	h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "command succeeded" })
	got := h.Metrics()
	if got[`runs_total{result="failure"}`] != 1 || got[`runs_total{result="success"}`] != 1 || got[`runs_total{result="error"}`] != 0 {
		t.Errorf("runs = %v, want one failure and one success", got)
	}
	if d := got["run_duration_seconds_total"]; d < 0.1 || d > 30 {
		t.Errorf("run_duration_seconds_total = %v, want at least the failed run's 0.1s", d)
	}
}
