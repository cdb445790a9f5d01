package e2e

// End-to-end tests of the command output's process handling: the program
// (`sh -c "echo start; sleep MARK"`, MARK a number unique to the test so that
// its processes are found in /proc without confusing them with anything
// else) never outlives its run, its plugin or the listener. Helpers carry
// the cmd prefix.

import (
	"fmt"
	"math/rand/v2"
	"path/filepath"
	"slices"
	"strings"
	"syscall"
	"testing"
	"time"
)

// cmdMark returns a sleep duration unique to this test run, like 1006.123456.
func cmdMark() string { return fmt.Sprintf("1006.%06d", rand.IntN(1000000)) }

// cmdProcs lists the live processes that have mark as one of their
// arguments or inside one (the shell's -c script).
func cmdProcs(mark string) []plugProc {
	return plugProcsWhere(func(_ int, argv []string) bool {
		return slices.ContainsFunc(argv[1:], func(a string) bool { return strings.Contains(a, mark) })
	})
}

// cmdWaitRunning waits until the program's shell and sleep both run.
func cmdWaitRunning(t *testing.T, mark string, not []plugProc) []plugProc {
	t.Helper()
	deadline := time.Now().Add(20 * time.Second)
	for {
		var procs []plugProc
		sleeping := false
		for _, p := range cmdProcs(mark) {
			if slices.ContainsFunc(not, func(o plugProc) bool { return o.pid == p.pid && o.start == p.start }) {
				continue
			}
			procs = append(procs, p)
			sleeping = sleeping || (len(p.argv) == 2 && p.argv[0] == "sleep")
		}
		if sleeping && len(procs) >= 2 {
			plugKillOnCleanup(t, procs...)
			return procs
		}
		if time.Now().After(deadline) {
			t.Fatalf("the program (sh and sleep %s) did not start within 20s; found %v", mark, procs)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// cmdListener starts a listener with one command output running script
// under /bin/sh -c, and makes its group non-empty so that it runs.
func cmdListener(t *testing.T, script, extra string) *proc {
	t.Helper()
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	output := fmt.Sprintf("  - kind: command\n    spec:\n      group: 1000\n      command: [/bin/sh, -c, %q]\n%s", script, extra)
	l := plugListener(t, plugConfig(port, "60s", "", output), nil)
	plugAnnounce(t, port, "127.1.2.3")
	return l
}

// cmdLine matches a line the program wrote on its standard output.
func cmdLine(text string) func(logLine) bool {
	return func(l logLine) bool {
		return plugFrom("command", 0, "command output")(l) && l.str("line") == text
	}
}

// TestCommandSIGTERMListener: SIGTERM to the listener while the program
// runs lets the program run for the stop grace period (10s, shorter than
// its 30s timeout), then stops its process group; the listener exits
// cleanly, without a plugin that failed to stop, and leaves no process
// behind.
func TestCommandSIGTERMListener(t *testing.T) {
	mark := cmdMark()
	l := cmdListener(t, "echo start; sleep "+mark, "      timeout: 30s\n")
	l.waitLog(20*time.Second, "the program's start", cmdLine("start"))
	procs := cmdWaitRunning(t, mark, nil)

	took := plugTerm(t, l)
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if l.err != nil {
		t.Errorf("the listener exited with %v after SIGTERM, want status 0", l.err)
	}
	if took < 9*time.Second || took > 15*time.Second {
		t.Errorf("the listener exited %v after SIGTERM, want the 10s stop grace (plus the kill)", took.Round(time.Millisecond))
	}
	if n := l.count(msgIs("plugin did not stop cleanly")); n != 0 {
		t.Errorf("%d plugins did not stop cleanly", n)
	}
	if n := l.count(func(x logLine) bool {
		return plugFrom("command", 0, "command failed")(x) && strings.Contains(x.str("error"), "stop grace period")
	}); n != 1 {
		t.Errorf("%d failures for the end of the stop grace period logged, want 1", n)
	}
	if alive := plugWaitGone(procs, 2*time.Second); len(alive) > 0 {
		t.Errorf("the program still runs after the listener exited: %v", alive)
	}
	plugNoCrash(t, l)
}

// TestCommandSIGKILLPlugin: SIGKILL of the `rgap plugin command` process
// mid-run takes the program's whole process group down too (its members
// ignore SIGTERM, so only the SIGKILL after wait_delay does), and the
// restarted plugin's run starts only after the old run is gone: the flock
// the old processes hold is free when the new run checks it.
func TestCommandSIGKILLPlugin(t *testing.T) {
	mark := cmdMark()
	held := filepath.Join(t.TempDir(), "held")
	script := fmt.Sprintf(`exec 9>>%s; if flock -n 9; then echo start; else echo overlap; fi; trap "" TERM; sleep %s`, held, mark)
	l := cmdListener(t, script, "      wait_delay: 1s\n")
	l.waitLog(20*time.Second, "the program's start", cmdLine("start"))
	old := cmdWaitRunning(t, mark, nil)
	plugins := plugWaitPlugins(t, l, 10*time.Second, nil, "command")
	plugKillOnCleanup(t, plugins["command"])

	if err := syscall.Kill(plugins["command"].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.waitLog(15*time.Second, "the host reporting the crash", plugFrom("command", 0, "output plugin failed; restarting"))
	if alive := plugWaitGone(old, 10*time.Second); len(alive) > 0 {
		t.Fatalf("the program still runs 10s after its plugin was killed: %v", alive)
	}
	l.waitN(20*time.Second, 2, "the restarted plugin's run", cmdLine("start"))
	cmdWaitRunning(t, mark, old)
	if n := l.count(cmdLine("overlap")); n != 0 {
		t.Errorf("the restarted plugin's run started while the old run still ran")
	}
	l.stop(20 * time.Second)
	plugNoCrash(t, l)
}

// TestCommandSIGKILLListener: SIGKILL of the listener takes the program's
// process group down too.
func TestCommandSIGKILLListener(t *testing.T) {
	mark := cmdMark()
	l := cmdListener(t, "echo start; sleep "+mark, "      timeout: 30s\n")
	l.waitLog(20*time.Second, "the program's start", cmdLine("start"))
	procs := cmdWaitRunning(t, mark, nil)
	plugKillListener(t, l, procs, "the program still runs 5s after the listener was killed")
}

// TestCommandEnvironment: the program sees the listener's environment as
// passed to plugins (PATH), not the plugin protocol's variables.
func TestCommandEnvironment(t *testing.T) {
	l := cmdListener(t, "env; echo done", "")
	l.waitLog(20*time.Second, "the program's end", cmdLine("done"))
	var env []string
	for _, x := range l.logsMatching(plugFrom("command", 0, "command output")) {
		env = append(env, x.str("line"))
	}
	if !slices.ContainsFunc(env, func(kv string) bool { return strings.HasPrefix(kv, "PATH=") }) {
		t.Errorf("the program does not see PATH; its environment: %q", env)
	}
	for _, kv := range env {
		if strings.HasPrefix(kv, "PLUGIN_") || strings.HasPrefix(kv, "RGAP_PLUGIN_") {
			t.Errorf("the program sees the plugin protocol's %s", kv[:strings.IndexByte(kv+"=", '=')])
		}
	}
	l.stop(20 * time.Second)
}

// logsMatching returns the log lines that match.
func (p *proc) logsMatching(match func(logLine) bool) []logLine {
	p.mu.Lock()
	defer p.mu.Unlock()
	var out []logLine
	for _, l := range p.logs {
		if match(l) {
			out = append(out, l)
		}
	}
	return out
}
