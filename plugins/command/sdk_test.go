package command

import (
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var far = time.Now().Add(time.Hour).Truncate(time.Second) // whole seconds: exact whatever the wire resolution

// TestREADMEExample runs the README's example through the SDK and checks
// what the README says it does: the file and the forwarded output line.
func TestREADMEExample(t *testing.T) {
	for i, spec := range sdktest.SpecsFromMarkdown(t, "README.md", "command") {
		dir := t.TempDir()
		t.Chdir(dir) // the example writes relative to the working directory
		h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1000})
		h.Join(1000, netip.MustParseAddr("10.0.0.7"), far)
		h.Join(1000, netip.MustParseAddr("10.0.0.3"), far)
		h.Ready(1000)
		h.Sync()
		e := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "command output" })
		if e.Level != hclog.Info || e.Arg("line") != "2 backends" || e.Arg("stream") != "stdout" ||
			e.Arg("command") != "/bin/sh" || e.Arg("group") != "1000" {
			t.Errorf("example %d: output line = %s, want the README's", i, e)
		}
		file, want := "backends", "10.0.0.3\n10.0.0.7\n"
		if strings.Contains(spec, "format: json") {
			file, want = "backends.json", `{"address":"10.0.0.3","port":0,"weight":0,"expires":"`+far.UTC().Format(time.RFC3339Nano)+`"}`+"\n"+
				`{"address":"10.0.0.7","port":0,"weight":0,"expires":"`+far.UTC().Format(time.RFC3339Nano)+`"}`+"\n"
		}
		if got := readFile(filepath.Join(dir, file)); got != want {
			t.Errorf("example %d: %s = %q, want %q", i, file, got, want)
		}
		h.Stop()
	}
}

// TestReferenceExample runs the command spec of the reference
// implementation's configuration example: it decodes unchanged, and since
// its script does not exist here, every attempt fails visibly.
func TestReferenceExample(t *testing.T) {
	const spec = `group: 1000
command:
  - "/home/user/sync.sh"
  - "--group"
  - "1000"
timeout: 5s
retries: 3
`
	if _, err := os.Stat("/home/user/sync.sh"); err == nil {
		t.Skip("/home/user/sync.sh exists on this machine; not running it")
	}
	h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 1000})
	h.Ready(1000)
	h.Sync()
	e := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "command failed" })
	if e.Level != hclog.Error || e.Arg("attempts") != "3" || e.Arg("command") != "/home/user/sync.sh" {
		t.Errorf("failure log = %s, want 3 attempts of /home/user/sync.sh", e)
	}
}

// TestSDKBurst sends a burst of joins through the real mirror while a slow
// command runs: they collapse into at most two further runs, the last with
// the final membership.
func TestSDKBurst(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	last := filepath.Join(dir, "last")
	cmd := script(t, dir, `echo run >> "$1"; cat > "$2"; sleep 0.2`+"\n")
	spec := "group: 7\ncommand: [" + strconv.Quote(cmd) + ", " + strconv.Quote(count) + ", " + strconv.Quote(last) + "]\n"
	h := sdktest.Start(t, Plugin, spec, sdk.GroupInfo{ID: 7})
	h.Ready(7)
	h.Sync()
	sdktest.Eventually(t, "first run", func() bool { return lineCount(count) == 1 })
	want := ""
	for i := 10; i >= 1; i-- {
		h.Join(7, netip.MustParseAddr("10.0.1."+strconv.Itoa(i)), far)
	}
	for i := 1; i <= 10; i++ { // addresses sort numerically
		want += "10.0.1." + strconv.Itoa(i) + "\n"
	}
	h.Sync()
	sdktest.Eventually(t, "a run with the final membership", func() bool { return readFile(last) == want })
	h.Stop() // waits for a run in progress
	if n := lineCount(count); n < 2 || n > 3 {
		t.Errorf("command ran %d times for the first state and a burst of 10 joins, want 2 or 3", n)
	}
}

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
