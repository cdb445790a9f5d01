package command

import (
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// waitPIDs waits for a file of PIDs, one a line, to hold n of them.
func waitPIDs(t *testing.T, path string, n int) []int {
	t.Helper()
	sdktest.Eventually(t, path+" lists the processes", func() bool { return strings.Count(readFile(path), "\n") >= n })
	var pids []int
	for _, f := range strings.Fields(readFile(path)) {
		pid, err := strconv.Atoi(f)
		if err != nil {
			t.Fatal(err)
		}
		pids = append(pids, pid)
	}
	t.Cleanup(func() {
		for _, pid := range pids {
			_ = syscall.Kill(pid, syscall.SIGKILL) // it may be gone already
		}
	})
	return pids
}

// TestStopTermsThenKillsGroup: a run that is stopped (by its timeout, or by
// the end of the stop grace period) sends SIGTERM to the program's whole
// process group first, so members can clean up, and SIGKILL after
// wait_delay to a member that ignores SIGTERM.
func TestStopTermsThenKillsGroup(t *testing.T) {
	tests := []struct {
		name     string
		timeout  time.Duration
		shutdown bool
		want     string
	}{
		{"timeout", time.Second, false, "timed out after 1s"},
		{"stop grace", 0, true, "stop grace period"},
		{"stop grace before a longer timeout", 30 * time.Second, true, "stop grace period"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			pids := filepath.Join(dir, "pids")
			termed := filepath.Join(dir, "termed")
			// One member records SIGTERM and exits, one ignores it; the
			// shell waits for both.
			cmd := script(t, dir, `
(trap 'echo term > "$2"; exit 0' TERM; sleep 300 & wait) &
echo $! >> "$1"
(trap '' TERM; exec sleep 301) &
echo $! >> "$1"
wait
`)
			g := &sdktest.FakeGroups{}
			g.SetAddrs(1, true, "10.0.0.1")
			o := testOutput([]string{cmd, pids, termed}, func(s *settings) {
				s.timeout = tt.timeout
				s.waitDelay = 500 * time.Millisecond
			})
			o.shutdownGrace = 300 * time.Millisecond
			r, sink := start(t, o, g)
			procs := waitPIDs(t, pids, 2)
			began := time.Now()
			if tt.shutdown {
				r.Stop()
			}
			sdktest.Eventually(t, "failure logged", func() bool { return len(sink.Find(hclog.Error, "command failed")) == 1 })
			if msg := sink.Find(hclog.Error, "command failed")[0].Arg("error"); !strings.Contains(msg, tt.want) {
				t.Errorf("error = %q, want %q", msg, tt.want)
			}
			if got := strings.TrimSpace(readFile(termed)); got != "term" {
				t.Errorf("the member handling SIGTERM did not get it before the kill (its mark: %q)", got)
			}
			sdktest.Eventually(t, "every member gone", func() bool { return processGone(procs[0]) && processGone(procs[1]) })
			if took := time.Since(began); tt.shutdown && took < 700*time.Millisecond {
				t.Errorf("stopped %v after the stop began: the SIGTERM-ignoring member did not get wait_delay", took)
			}
		})
	}
}

// TestRunsNeverOverlap: two runners of the same group and command (as a
// plugin and its restarted successor are) never run the program at the
// same time: the second waits until the first run's processes are gone.
func TestRunsNeverOverlap(t *testing.T) {
	dir := t.TempDir()
	held := filepath.Join(dir, "held")
	log := filepath.Join(dir, "log")
	// The lock on fd 9 is held by the shell and the sleep it leaves behind.
	cmd := script(t, dir, `exec 9>>"$1"
if flock -n 9; then echo alone >> "$2"; else echo overlap >> "$2"; fi
sleep 0.5 &
`)
	lockDir := filepath.Join(t.TempDir(), "locks")
	var sinks []*sdktest.LogSink
	for range 2 {
		g := &sdktest.FakeGroups{}
		g.SetAddrs(1, true, "10.0.0.1")
		o := testOutput([]string{cmd, held, log}, func(s *settings) { s.waitDelay = 2 * time.Second })
		o.lockDir = lockDir
		_, sink := start(t, o, g)
		sinks = append(sinks, sink)
	}
	sdktest.Eventually(t, "both runs done", func() bool {
		return len(sinks[0].Find(hclog.Info, "command succeeded"))+len(sinks[1].Find(hclog.Info, "command succeeded")) == 2
	})
	if got := readFile(log); got != "alone\nalone\n" {
		t.Errorf("runs recorded %q, want two runs alone", got)
	}
	if n := len(sinks[0].Find(hclog.Warn, "a previous run of this command is still being stopped; waiting for it to end")) +
		len(sinks[1].Find(hclog.Warn, "a previous run of this command is still being stopped; waiting for it to end")); n != 1 {
		t.Errorf("%d waiting warnings, want 1", n)
	}
}

// TestProgramEnvironment: the program sees the plugin's environment but
// none of the plugin protocol's variables.
func TestProgramEnvironment(t *testing.T) {
	t.Setenv("RGAP_PLUGIN_COOKIE", "9c1d6f0e")
	t.Setenv("PLUGIN_CLIENT_CERT", "-----BEGIN CERTIFICATE-----")
	t.Setenv("PLUGIN_UNIX_SOCKET_DIR", "/tmp/plugin-dir123")
	t.Setenv("RGAP_PLUGIN_PARENT_PID", "1")
	t.Setenv("RGAP_TEST_OPERATOR_VAR", "kept")
	dir := t.TempDir()
	envFile := filepath.Join(dir, "env")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	_, sink := start(t, testOutput([]string{"/bin/sh", "-c", `env > "$0"`, envFile}, nil), g)
	sdktest.Eventually(t, "run finished", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 1 })
	env := readFile(envFile)
	for _, name := range []string{"RGAP_PLUGIN_COOKIE", "PLUGIN_CLIENT_CERT", "PLUGIN_UNIX_SOCKET_DIR", "RGAP_PLUGIN_PARENT_PID"} {
		if strings.Contains(env, name+"=") {
			t.Errorf("the program sees %s", name)
		}
	}
	for _, kv := range []string{"PATH=" + os.Getenv("PATH"), "RGAP_TEST_OPERATOR_VAR=kept"} {
		if !strings.Contains(env, kv+"\n") {
			t.Errorf("the program does not see %s", kv)
		}
	}
}
