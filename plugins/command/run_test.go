package command

import (
	"context"
	"errors"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/background"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// script writes an executable shell script into dir and returns its path.
func script(t *testing.T, dir, body string) string {
	t.Helper()
	path := filepath.Join(dir, "cmd.sh")
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil { //nolint:gosec // the command the output runs must be executable
		t.Fatal(err)
	}
	return path
}

// start runs o against g until the run is stopped or the test ends.
func start(t *testing.T, o *output, g *sdktest.FakeGroups) (*background.Run, *sdktest.LogSink) {
	t.Helper()
	sink := sdktest.NewLogSink(t, hclog.Trace)
	r := background.Start(t, "run", 10*time.Second, func(ctx context.Context) error {
		return o.run(ctx, g, sink.Logger())
	})
	return r, sink
}

func testOutput(argv []string, mod func(*settings)) *output {
	s := &settings{group: 1, argv: argv, attempts: 1, waitDelay: defaultWaitDelay}
	if mod != nil {
		mod(s)
	}
	o := newOutput(s)
	o.retryPause = 10 * time.Millisecond
	return o
}

func readFile(path string) string {
	b, _ := os.ReadFile(path)
	return string(b)
}

// lineCount counts the lines of a file the scripts append to.
func lineCount(path string) int {
	return strings.Count(readFile(path), "\n")
}

func TestRunPipesAddresses(t *testing.T) {
	dir := t.TempDir()
	out := filepath.Join(dir, "stdin")
	cmd := script(t, dir, `cat > "$1.tmp" && mv "$1.tmp" "$1"`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "2001:db8::1", "::ffff:10.0.0.2", "10.0.0.10", "10.0.0.2")
	_, sink := start(t, testOutput([]string{cmd, out}, nil), g)
	sdktest.Eventually(t, "first run", func() bool { return readFile(out) == "10.0.0.2\n10.0.0.10\n2001:db8::1\n" })
	g.SetAddrs(1, true) // everybody left: the command runs with empty input
	sdktest.Eventually(t, "second run logged", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 2 })
	if got := readFile(out); got != "" {
		t.Errorf("stdin of the run for an empty group = %q, want nothing", got)
	}
}

// startCounted runs a command that adds a line to the file count on every
// run, for group 1 holding 10.0.0.1, ready or not.
func startCounted(t *testing.T, ready bool) (count string, g *sdktest.FakeGroups, sink *sdktest.LogSink) {
	t.Helper()
	dir := t.TempDir()
	count = filepath.Join(dir, "count")
	cmd := script(t, dir, `echo run >> "$1"`+"\n")
	g = &sdktest.FakeGroups{}
	g.SetAddrs(1, ready, "10.0.0.1")
	_, sink = start(t, testOutput([]string{cmd, count}, nil), g)
	return count, g, sink
}

func TestRunWaitsForReady(t *testing.T) {
	count, g, sink := startCounted(t, false)
	sdktest.Eventually(t, "waiting log", func() bool { return len(sink.Find(hclog.Info, "waiting for group to become ready")) == 1 })
	g.SetAddrs(1, false, "10.0.0.2")
	time.Sleep(50 * time.Millisecond)
	if n := lineCount(count); n != 0 {
		t.Fatalf("command ran %d times before the group was ready", n)
	}
	g.SetAddrs(1, true, "10.0.0.2")
	sdktest.Eventually(t, "run after ready", func() bool { return lineCount(count) == 1 })
}

func TestRunSkipsUnchangedMembership(t *testing.T) {
	count, g, sink := startCounted(t, true)
	sdktest.Eventually(t, "first run", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 1 })
	g.SetAddrs(1, true, "10.0.0.1") // a wake-up without a real change
	g.SetAddrs(1, true, "10.0.0.1")
	time.Sleep(50 * time.Millisecond)
	g.SetAddrs(1, true, "10.0.0.3")
	sdktest.Eventually(t, "run after a real change", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 2 })
	if n := lineCount(count); n != 2 {
		t.Errorf("command ran %d times, want 2", n)
	}
}

func TestRunCollapsesBursts(t *testing.T) {
	dir := t.TempDir()
	count := filepath.Join(dir, "count")
	last := filepath.Join(dir, "last")
	release := filepath.Join(dir, "release")
	// Each run records itself, then blocks until the test releases it.
	cmd := script(t, dir, `echo run >> "$1"; cat > "$2"; while [ ! -e "$3" ]; do sleep 0.01; done`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	_, sink := start(t, testOutput([]string{cmd, count, last, release}, nil), g)
	sdktest.Eventually(t, "first run started", func() bool { return lineCount(count) == 1 })
	for i := 2; i <= 11; i++ {
		g.SetAddrs(1, true, "10.0.0."+strconv.Itoa(i))
	}
	if err := os.WriteFile(release, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	sdktest.Eventually(t, "run with the final membership", func() bool {
		return readFile(last) == "10.0.0.11\n" && len(sink.Find(hclog.Info, "command succeeded")) >= 2
	})
	time.Sleep(100 * time.Millisecond) // let any further run start
	if n := lineCount(count); n < 2 || n > 3 {
		t.Errorf("command ran %d times for 1 initial state + a burst of 10 changes, want 2 or 3", n)
	}
}

func TestRunRetries(t *testing.T) {
	tests := []struct {
		name      string
		attempts  int
		failUntil int // the script fails while the run count is below this
		runs      int
		succeeded bool
	}{
		{"always failing, 1 attempt", 1, 100, 1, false},
		{"always failing, 3 attempts", 3, 100, 3, false},
		{"second attempt succeeds", 3, 2, 2, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			dir := t.TempDir()
			count := filepath.Join(dir, "count")
			cmd := script(t, dir, `echo run >> "$1"; n=$(wc -l < "$1"); [ "$n" -ge "$2" ] || exit 3`+"\n")
			g := &sdktest.FakeGroups{}
			g.SetAddrs(1, true, "10.0.0.1")
			o := testOutput([]string{cmd, count, strconv.Itoa(tt.failUntil)}, func(s *settings) { s.attempts = tt.attempts })
			_, sink := start(t, o, g)
			sdktest.Eventually(t, "final outcome logged", func() bool {
				return len(sink.Find(hclog.Error, "command failed"))+len(sink.Find(hclog.Info, "command succeeded")) == 1
			})
			if n := lineCount(count); n != tt.runs {
				t.Errorf("command ran %d times, want %d", n, tt.runs)
			}
			if n := len(sink.Find(hclog.Warn, "command failed, retrying")); n != tt.runs-1 {
				t.Errorf("%d retry warnings, want %d", n, tt.runs-1)
			}
			if !tt.succeeded {
				e := sink.Find(hclog.Error, "command failed")[0]
				if e.Arg("exit_code") != "3" || e.Arg("attempts") != strconv.Itoa(tt.attempts) || !strings.Contains(e.Arg("error"), "exit status 3") {
					t.Errorf("failure log = %v, want exit_code 3, attempts %d", e, tt.attempts)
				}
			}
		})
	}
}

func TestRunProgramNotFound(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "no-such-program")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	_, sink := start(t, testOutput([]string{missing}, func(s *settings) { s.attempts = 2 }), g)
	sdktest.Eventually(t, "failure logged", func() bool { return len(sink.Find(hclog.Error, "command failed")) == 1 })
	e := sink.Find(hclog.Error, "command failed")[0]
	if msg := e.Arg("error"); !strings.Contains(msg, missing) || !strings.Contains(msg, "no such file") {
		t.Errorf("error %q does not name the program and the cause", msg)
	}
	if e.Arg("attempts") != "2" {
		t.Errorf("attempts = %v, want 2", e.Arg("attempts"))
	}
}

// processGone reports whether pid no longer runs (absent or a zombie
// waiting for a reaper that is not us).
func processGone(pid int) bool {
	if err := syscall.Kill(pid, 0); errors.Is(err, syscall.ESRCH) {
		return true
	}
	stat, err := os.ReadFile("/proc/" + strconv.Itoa(pid) + "/stat")
	if err != nil {
		return true
	}
	fields := strings.Fields(string(stat[strings.LastIndexByte(string(stat), ')')+1:]))
	return len(fields) > 0 && fields[0] == "Z"
}

func TestRunTimeoutKillsProcessGroup(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "grandchild")
	// The grandchild is a plain background job: only a process-group kill
	// reaches it.
	cmd := script(t, dir, `sleep 300 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"; wait`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	o := testOutput([]string{cmd, pidFile}, func(s *settings) { s.timeout = 2 * time.Second })
	_, sink := start(t, o, g)
	sdktest.Eventually(t, "grandchild started", func() bool { return readFile(pidFile) != "" })
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // it may be gone already
	sdktest.Eventually(t, "timeout logged", func() bool { return len(sink.Find(hclog.Error, "command failed")) == 1 })
	if msg := sink.Find(hclog.Error, "command failed")[0].Arg("error"); !strings.Contains(msg, "timed out after 2s") {
		t.Errorf("error = %q, want a timeout", msg)
	}
	sdktest.Eventually(t, "grandchild sleep killed", func() bool { return processGone(pid) })
}

func TestRunForwardsOutput(t *testing.T) {
	dir := t.TempDir()
	cmd := script(t, dir, "echo synced; echo 'warning: slow' >&2; printf 'no newline'\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	_, sink := start(t, testOutput([]string{cmd}, nil), g)
	sdktest.Eventually(t, "run finished", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 1 })
	type line struct{ level, text, stream string }
	var got []line
	for _, level := range []hclog.Level{hclog.Info, hclog.Warn} {
		for _, e := range sink.Find(level, "command output") {
			if e.Arg("command") != cmd || e.Arg("group") != "1" {
				t.Errorf("output entry %v not tagged with command %s and group 1", e, cmd)
			}
			got = append(got, line{level.String(), e.Arg("line"), e.Arg("stream")})
		}
	}
	want := []line{{"info", "synced", "stdout"}, {"info", "no newline", "stdout"}, {"warn", "warning: slow", "stderr"}}
	if len(got) != len(want) {
		t.Fatalf("forwarded %v, want %v", got, want)
	}
	for i := range want {
		if got[i] != want[i] {
			t.Errorf("line %d = %v, want %v", i, got[i], want[i])
		}
	}
}

// TestRunStopsLeftovers: a program that exits but leaves a child running
// (holding its output) succeeds, and the child is stopped after wait_delay:
// nothing a run started outlives it.
func TestRunStopsLeftovers(t *testing.T) {
	dir := t.TempDir()
	pidFile := filepath.Join(dir, "pid")
	cmd := script(t, dir, `sleep 300 & echo $! > "$1.tmp"; mv "$1.tmp" "$1"`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	_, sink := start(t, testOutput([]string{cmd, pidFile}, nil), g)
	sdktest.Eventually(t, "leftover started", func() bool { return readFile(pidFile) != "" })
	pid, err := strconv.Atoi(strings.TrimSpace(readFile(pidFile)))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = syscall.Kill(pid, syscall.SIGKILL) }) // it may be gone already
	sdktest.Eventually(t, "run finished despite the leftover", func() bool { return len(sink.Find(hclog.Info, "command succeeded")) == 1 })
	if n := len(sink.Find(hclog.Warn, "command exited but processes it started still ran after wait_delay; they were stopped")); n != 1 {
		t.Errorf("%d leftover warnings, want 1", n)
	}
	sdktest.Eventually(t, "leftover sleep stopped", func() bool { return processGone(pid) })
}

func TestShutdownLetsCommandFinish(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	finished := filepath.Join(dir, "finished")
	cmd := script(t, dir, `touch "$1"; sleep 0.3; touch "$2"`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	o := testOutput([]string{cmd, started, finished}, func(s *settings) { s.timeout = 10 * time.Second; s.attempts = 3 })
	r, sink := start(t, o, g)
	sdktest.Eventually(t, "command started", func() bool { _, err := os.Stat(started); return err == nil })
	r.Stop()
	if _, err := os.Stat(finished); err != nil {
		t.Fatalf("run returned before the command finished: %v", err)
	}
	if n := len(sink.Find(hclog.Info, "command succeeded")); n != 1 {
		t.Errorf("%d successes logged, want 1", n)
	}
}

func TestShutdownGraceWithoutTimeout(t *testing.T) {
	dir := t.TempDir()
	started := filepath.Join(dir, "started")
	cmd := script(t, dir, `touch "$1"; exec sleep 300`+"\n")
	g := &sdktest.FakeGroups{}
	g.SetAddrs(1, true, "10.0.0.1")
	o := testOutput([]string{cmd, started}, func(s *settings) { s.attempts = 5 })
	o.shutdownGrace = 100 * time.Millisecond
	r, sink := start(t, o, g)
	sdktest.Eventually(t, "command started", func() bool { _, err := os.Stat(started); return err == nil })
	r.Stop()
	e := sink.Find(hclog.Error, "command failed")
	if len(e) != 1 || !strings.Contains(e[0].Arg("error"), "stop grace period") || e[0].Arg("attempts") != "1" {
		t.Errorf("failure logs = %v, want one shutdown kill after 1 attempt (no retry during shutdown)", e)
	}
}

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
