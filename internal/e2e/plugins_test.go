package e2e

// End-to-end tests of the output plugins: the real rgap binary (built with
// -race by TestMain), real plugin subprocesses (built-in kinds re-executed
// from it, out-of-tree executables built from the SDK example and from
// testdata/plugins, shell scripts posing as broken plugins), loopback only.
// Helpers here carry the plug prefix.

import (
	"context"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// plugPSK is the group key of these tests; no plugin may ever see it.
const plugPSK = "3c9d0f1e2a4b6c8d0e1f2a3b4c5d6e7f8091a2b3c4d5e6f708192a3b4c5d6e7f"

// plugBuiltins are the output kinds compiled into rgap.
var plugBuiltins = []string{"command", "dns", "eventlog", "hostsfile", "log", "noop"}

// plugConfig is a listener configuration with group 1000 (readiness_delay 0,
// so that outputs see the group as ready at once) and the given outputs,
// written as YAML list items ("  - kind: ...").
func plugConfig(port int, expire, top, outputs string) string {
	return fmt.Sprintf("%slisten:\n  - 127.0.0.1:%d\ngroups:\n  - id: 1000\n    psk: %s\n    expire: %s\n    readiness_delay: 0s\noutputs:\n%s",
		top, port, plugPSK, expire, outputs)
}

// plugPorts returns two loopback UDP ports that were free a moment ago:
// one for the listener, one for its dns output.
func plugPorts(t *testing.T) (listen, dns int) {
	t.Helper()
	return freeUDPPort(t, "udp4", "127.0.0.1"), freeUDPPort(t, "udp4", "127.0.0.1")
}

// plugDNSOutput configures a dns output answering app.test. on 127.0.0.1:port.
func plugDNSOutput(port int) string {
	return dnsOutput(fmt.Sprintf("127.0.0.1:%d", port), "app.test")
}

// dnsOutput configures a dns output bound to bind that answers name with
// group 1000 (six lines: the bind-clash tests name lines by number).
func dnsOutput(bind, name string) string {
	return fmt.Sprintf("  - kind: dns\n    spec:\n      bind_address: %q\n      mappings:\n        %s:\n          group: 1000\n", bind, name)
}

// plugListener writes cfg into a new directory and starts a listener on it,
// waiting until it listens (every output's spec was validated by then).
func plugListener(t *testing.T, cfg string, env []string, args ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	path := writeConfig(t, dir, cfg)
	p := start(t, dir, env, append([]string{"listener", "-c", path}, args...)...)
	p.waitLog(20*time.Second, "listening", msgIs("listening"))
	return p
}

// plugAnnounce sends one announcement of addr to the listener on port.
func plugAnnounce(t *testing.T, port int, addr string) {
	t.Helper()
	code, _, stderr := runRgap(t, []string{"RGAP_PSK=" + plugPSK},
		"agent", "-g", "1000", "-a", addr, "-d", fmt.Sprintf("127.0.0.1:%d", port))
	if code != 0 {
		t.Fatalf("agent -a %s: exit %d: %s", addr, code, stderr)
	}
}

// plugAgent starts an agent announcing addr every 200ms until the test ends.
func plugAgent(t *testing.T, port int, addr string) *proc {
	t.Helper()
	return start(t, t.TempDir(), []string{"RGAP_PSK=" + plugPSK},
		"agent", "-g", "1000", "-i", "200ms", "-a", addr, "-d", fmt.Sprintf("127.0.0.1:%d", port))
}

// plugV2Agent starts a protocol-2 agent announcing addr with port and
// weight (0: the listener's default) every interval to the listener on
// lport.
func plugV2Agent(t *testing.T, lport int, addr string, port, weight int, interval string) *proc {
	t.Helper()
	return start(t, t.TempDir(), []string{"RGAP_PSK=" + plugPSK}, "agent", "--protocol", "2",
		"--port", strconv.Itoa(port), "--weight", strconv.Itoa(weight),
		"-g", "1000", "-i", interval, "-a", addr, "-d", fmt.Sprintf("127.0.0.1:%d", lport))
}

// plugEvent matches an eventlog line: msg ("address joined" or "address
// left") for addr in group 1000, re-emitted by the host for output index.
func plugEvent(msg, addr string, index int) func(logLine) bool {
	return func(l logLine) bool {
		return l.msg() == msg && l.str("kind") == "eventlog" && l.str("output") == strconv.Itoa(index) &&
			l.str("group") == "1000" && l.str("address") == addr
	}
}

// plugFrom matches any line of the given output (re-emitted plugin logs and
// the host's own lines about the output carry kind and output).
func plugFrom(kind string, index int, msg string) func(logLine) bool {
	return func(l logLine) bool {
		return l.str("kind") == kind && l.str("output") == strconv.Itoa(index) && (msg == "" || l.msg() == msg)
	}
}

// plugNoCrash fails the test if the listener's output shows a Go panic or
// a data race report (the binary is built with -race).
func plugNoCrash(t *testing.T, p *proc) {
	t.Helper()
	p.mu.Lock()
	defer p.mu.Unlock()
	for _, line := range p.raw {
		if strings.HasPrefix(line, "panic: ") || strings.HasPrefix(line, "fatal error: ") || strings.Contains(line, "WARNING: DATA RACE") {
			t.Errorf("listener crashed or raced: %s", line)
		}
	}
}

// plugBuild builds the main package pkg into dst (mode 0755). It builds
// with -race like TestMain, so the SDK and its dependencies come from the
// build cache and only the plugin itself is compiled and linked.
func plugBuild(t *testing.T, pkg, dst string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, "go", "build", "-race", "-o", dst, pkg).CombinedOutput() //nolint:gosec // building a package of this module for the test
	if err != nil {
		t.Fatalf("go build %s: %v\n%s", pkg, err, out)
	}
	if err := os.Chmod(dst, 0o755); err != nil { //nolint:gosec // a plugin executable as installed for real
		t.Fatal(err)
	}
}

// plugDir returns a new plugins directory (mode 0755, as the host wants).
func plugDir(t *testing.T) string {
	t.Helper()
	dir := filepath.Join(t.TempDir(), "plugins")
	if err := os.Mkdir(dir, 0o755); err != nil { //nolint:gosec // a plugins directory as installed for real
		t.Fatal(err)
	}
	return dir
}

// plugHello builds the SDK's out-of-tree example as dir/rgap-plugin-hello.
func plugHello(t *testing.T, dir string) string {
	t.Helper()
	dst := filepath.Join(dir, "rgap-plugin-hello")
	plugBuild(t, "github.com/rgap-project/rgap/sdk/example/rgap-plugin-hello", dst)
	return dst
}

// plugScript writes a shell script posing as the plugin of kind into dir.
func plugScript(t *testing.T, dir, kind, body string) string {
	t.Helper()
	path := filepath.Join(dir, "rgap-plugin-"+kind)
	if err := os.WriteFile(path, []byte("#!/bin/sh\n"+body), 0o755); err != nil { //nolint:gosec // a plugin executable as installed for real
		t.Fatal(err)
	}
	if err := os.Chmod(path, 0o755); err != nil { //nolint:gosec // whatever the umask: a plugin executable as installed for real
		t.Fatal(err)
	}
	return path
}

// plugSHA256 is the hex SHA-256 digest of a file.
func plugSHA256(t *testing.T, path string) string {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	sum := sha256.Sum256(b)
	return hex.EncodeToString(sum[:])
}

// plugProc identifies a process across PID reuse: its PID and start time.
type plugProc struct {
	pid   int
	start string
	argv  []string
}

func (p plugProc) String() string { return fmt.Sprintf("%d %q", p.pid, p.argv) }

// plugStat reads a process's parent PID, state and start time.
func plugStat(pid int) (ppid int, state, start string, ok bool) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, "", "", false
	}
	s := string(b)
	i := strings.LastIndexByte(s, ')') // comm may hold spaces and parens
	if i < 0 {
		return 0, "", "", false
	}
	f := strings.Fields(s[i+1:]) // f[0] is field 3 (state) of proc(5)
	if len(f) < 20 {
		return 0, "", "", false
	}
	ppid, err = strconv.Atoi(f[1])
	if err != nil {
		return 0, "", "", false
	}
	return ppid, f[0], f[19], true
}

// plugAlive reports whether p still runs (a zombie does not).
func plugAlive(p plugProc) bool {
	_, state, start, ok := plugStat(p.pid)
	return ok && start == p.start && state != "Z" && state != "X"
}

// plugChildren lists the live child processes of parent.
func plugChildren(parent int) []plugProc {
	return plugProcsWhere(func(ppid int, _ []string) bool { return ppid == parent })
}

// plugProcsWhere lists the live processes (zombies excluded) for whose
// parent PID and argv keep holds.
func plugProcsWhere(keep func(ppid int, argv []string) bool) []plugProc {
	ents, err := os.ReadDir("/proc")
	if err != nil {
		return nil
	}
	var found []plugProc
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		ppid, state, start, ok := plugStat(pid)
		if !ok || state == "Z" {
			continue
		}
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
		if err != nil {
			continue
		}
		argv := strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
		if keep(ppid, argv) {
			found = append(found, plugProc{pid: pid, start: start, argv: argv})
		}
	}
	return found
}

// plugKindOf names the output kind a plugin process serves: built-ins run
// as `<rgap> plugin KIND`, out-of-tree plugins as rgap-plugin-KIND.
func plugKindOf(argv []string) string {
	if len(argv) == 3 && argv[1] == "plugin" {
		return argv[2]
	}
	if len(argv) > 0 {
		if k, ok := strings.CutPrefix(filepath.Base(argv[0]), "rgap-plugin-"); ok {
			return k
		}
	}
	return ""
}

// plugWaitPlugins waits until the listener has a plugin child of every kind
// (each different from the PIDs in not) and returns one per kind.
func plugWaitPlugins(t *testing.T, p *proc, timeout time.Duration, not []plugProc, kinds ...string) map[string]plugProc {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		found := map[string]plugProc{}
		for _, c := range plugChildren(p.cmd.Process.Pid) {
			k := plugKindOf(c.argv)
			if slices.Contains(kinds, k) && !slices.ContainsFunc(not, func(o plugProc) bool { return o.pid == c.pid && o.start == c.start }) {
				found[k] = c
			}
		}
		if len(found) == len(kinds) {
			return found
		}
		if time.Now().After(deadline) {
			t.Fatalf("plugin processes of kinds %v did not all appear within %v; children: %v",
				kinds, timeout, plugChildren(p.cmd.Process.Pid))
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// plugWaitGone waits until none of procs runs; it returns the survivors.
func plugWaitGone(procs []plugProc, timeout time.Duration) []plugProc {
	deadline := time.Now().Add(timeout)
	for {
		var alive []plugProc
		for _, p := range procs {
			if plugAlive(p) {
				alive = append(alive, p)
			}
		}
		if len(alive) == 0 || time.Now().After(deadline) {
			return alive
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// plugKillOnCleanup SIGKILLs, by PID, whichever of procs still runs when the
// test ends, so that a failing test leaves no orphan behind.
func plugKillOnCleanup(t *testing.T, procs ...plugProc) {
	t.Cleanup(func() {
		for _, p := range procs {
			if plugAlive(p) {
				_ = syscall.Kill(p.pid, syscall.SIGKILL) // it may exit meanwhile
			}
		}
	})
}

// plugAllKilledOnCleanup lists the processes of running and SIGKILLs
// whichever of them still runs when the test ends (plugKillOnCleanup).
func plugAllKilledOnCleanup(t *testing.T, running map[string]plugProc) []plugProc {
	var procs []plugProc
	for _, p := range running {
		procs = append(procs, p)
	}
	plugKillOnCleanup(t, procs...)
	return procs
}

// plugKillListener SIGKILLs the listener l, waits for it to exit, and fails
// the test with msg unless every process of procs is gone within 5s.
func plugKillListener(t *testing.T, l *proc, procs []plugProc, msg string) {
	t.Helper()
	if err := l.cmd.Process.Kill(); err != nil {
		t.Fatal(err)
	}
	<-l.done
	if alive := plugWaitGone(procs, 5*time.Second); len(alive) > 0 {
		t.Fatalf("%s: %v", msg, alive)
	}
}

// plugTerm sends the listener l SIGTERM and returns how long it took to
// exit; the test fails unless it exits within 30s.
func plugTerm(t *testing.T, l *proc) time.Duration {
	t.Helper()
	began := time.Now()
	if err := l.cmd.Process.Signal(syscall.SIGTERM); err != nil {
		t.Fatal(err)
	}
	select {
	case <-l.done:
	case <-time.After(30 * time.Second):
		t.Fatal("the listener did not exit within 30s of SIGTERM")
	}
	return time.Since(began)
}

// plugQueryA asks the dns output on port for the A records of app.test.
func plugQueryA(port int) ([]string, error) {
	r, err := dnsQuery(fmt.Sprintf("127.0.0.1:%d", port), "app.test", dns.TypeA, 2*time.Second)
	if err != nil {
		return nil, err
	}
	if r.Rcode != dns.RcodeSuccess {
		return nil, fmt.Errorf("rcode %s", dns.RcodeToString[r.Rcode])
	}
	addrs, other := dnsA(r)
	if len(other) > 0 {
		return nil, fmt.Errorf("unexpected record %v", other[0])
	}
	return addrs, nil
}

// plugWaitDNS polls the dns output until it answers exactly want (sorted).
func plugWaitDNS(t *testing.T, port int, timeout time.Duration, want ...string) {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		got, err := plugQueryA(port)
		if err == nil && slices.Equal(got, want) {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("dns output on port %d: last answer %v, %v; want %v within %v", port, got, err, want, timeout)
		}
		time.Sleep(50 * time.Millisecond)
	}
}

// TestPluginEventlogJoinAndLeave: an agent's announcement reaches the
// eventlog output through the listener, which logs the join with group and
// address and, after the expiry, the leave.
func TestPluginEventlogJoinAndLeave(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(port, "2s", "", "  - kind: eventlog\n"), nil)
	plugAnnounce(t, port, "127.1.2.3")
	plugAnnounce(t, port, "::ffff:127.1.2.4") // an IPv4-mapped address is logged as IPv4
	l.waitLog(15*time.Second, "eventlog join of 127.1.2.3", plugEvent("address joined", "127.1.2.3", 0))
	l.waitLog(15*time.Second, "eventlog join of 127.1.2.4", plugEvent("address joined", "127.1.2.4", 0))
	// Each leave comes after its join (waitLog scans from the first line).
	for _, a := range []string{"127.1.2.3", "127.1.2.4"} {
		joined := false
		l.waitLog(15*time.Second, "eventlog leave of "+a+" after its join", func(x logLine) bool {
			if plugEvent("address joined", a, 0)(x) {
				joined = true
			}
			return joined && plugEvent("address left", a, 0)(x)
		})
	}
	for _, a := range []string{"127.1.2.3", "127.1.2.4"} {
		if n := l.count(plugEvent("address joined", a, 0)); n != 1 {
			t.Errorf("%s joined %d times, want once", a, n)
		}
	}
	l.stop(10 * time.Second)
	plugNoCrash(t, l)
}

// TestPluginRestartAfterSIGKILL: SIGKILL of the eventlog plugin is logged by
// the host, which restarts it; the new process gets a fresh snapshot and
// logs the current members as joins. The dns output answers every query
// correctly all the while.
func TestPluginRestartAfterSIGKILL(t *testing.T) {
	port, dnsPort := plugPorts(t)
	l := plugListener(t, plugConfig(port, "5s", "", "  - kind: eventlog\n"+plugDNSOutput(dnsPort)), nil)
	members := []string{"127.1.2.3", "127.1.2.4"}
	for _, a := range members {
		plugAgent(t, port, a)
	}
	for _, a := range members {
		l.waitLog(15*time.Second, "eventlog join of "+a, plugEvent("address joined", a, 0))
	}
	plugWaitDNS(t, dnsPort, 15*time.Second, members...)
	old := plugWaitPlugins(t, l, 10*time.Second, nil, "eventlog", "dns")
	plugKillOnCleanup(t, old["eventlog"], old["dns"])

	// Query the dns output throughout the restart window.
	stopQueries := make(chan struct{})
	var (
		mu      sync.Mutex
		queries int
		bad     []string
	)
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stopQueries:
				return
			default:
			}
			got, err := plugQueryA(dnsPort)
			mu.Lock()
			queries++
			if err != nil || !slices.Equal(got, members) {
				bad = append(bad, fmt.Sprintf("%s: %v %v", time.Now().Format("15:04:05.000"), got, err))
			}
			mu.Unlock()
			time.Sleep(10 * time.Millisecond)
		}
	})

	if err := syscall.Kill(old["eventlog"].pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	l.waitLog(15*time.Second, "the host reporting the eventlog crash",
		plugFrom("eventlog", 0, "output plugin failed; restarting"))
	plugWaitPlugins(t, l, 15*time.Second, []plugProc{old["eventlog"]}, "eventlog")
	for _, a := range members {
		crashed := false
		l.waitLog(15*time.Second, "the restarted eventlog logging the join of "+a, func(x logLine) bool {
			if plugFrom("eventlog", 0, "output plugin failed; restarting")(x) {
				crashed = true
			}
			return crashed && plugEvent("address joined", a, 0)(x)
		})
	}
	// Keep querying a little after the restart, for at least 20 queries.
	deadline := time.Now().Add(10 * time.Second)
	for {
		mu.Lock()
		n := queries
		mu.Unlock()
		if n >= 20 || time.Now().After(deadline) {
			break
		}
		time.Sleep(50 * time.Millisecond)
	}
	close(stopQueries)
	wg.Wait()
	if queries < 20 {
		t.Errorf("only %d dns queries during the restart window", queries)
	}
	if len(bad) > 0 {
		t.Errorf("%d of %d dns answers during the eventlog restart were wrong (want %v):\n%s",
			len(bad), queries, members, strings.Join(bad, "\n"))
	}
	if plugAlive(old["eventlog"]) {
		t.Errorf("the killed eventlog process %v still runs", old["eventlog"])
	}
	if !plugAlive(old["dns"]) {
		t.Errorf("the dns plugin %v was restarted too", old["dns"])
	}
	if n := l.count(plugFrom("dns", 1, "output plugin failed; restarting")); n != 0 {
		t.Errorf("the dns output failed %d times", n)
	}
	for _, a := range members {
		if n := l.count(plugEvent("address left", a, 0)); n != 0 {
			t.Errorf("eventlog logged %s leaving, but its agent kept announcing", a)
		}
	}
	l.stop(10 * time.Second)
	plugNoCrash(t, l)
}

// TestPluginSIGKILLListenerLeavesNoPlugin: when the listener is killed with
// SIGKILL (no chance to clean up), none of its plugin processes, built-in or
// out-of-tree, outlives it by more than 5 seconds.
func TestPluginSIGKILLListenerLeavesNoPlugin(t *testing.T) {
	dir := plugDir(t)
	plugHello(t, dir)
	port, dnsPort := plugPorts(t)
	outputs := "  - kind: eventlog\n" + plugDNSOutput(dnsPort) + "  - kind: noop\n" +
		"  - kind: hello\n    spec:\n      group: 1000\n"
	l := plugListener(t, plugConfig(port, "5s", "", outputs), nil, "--plugins-dir", dir)
	running := plugWaitPlugins(t, l, 15*time.Second, nil, "eventlog", "dns", "noop", "hello")
	procs := plugAllKilledOnCleanup(t, running)

	plugKillListener(t, l, procs, "plugin processes still run 5s after the listener was killed")
}

// TestPluginSIGTERMStopsEverything: SIGTERM stops every plugin (and what it
// started) and the listener exits 0 within a few seconds.
func TestPluginSIGTERMStopsEverything(t *testing.T) {
	port, dnsPort := plugPorts(t)
	hosts := filepath.Join(t.TempDir(), "hosts")
	outputs := "  - kind: eventlog\n" + plugDNSOutput(dnsPort) +
		"  - kind: log\n    spec:\n      interval: 1s\n" +
		"  - kind: noop\n" +
		"  - kind: hostsfile\n    spec:\n      interval: 1s\n      filename: " + hosts +
		"\n      mappings:\n        - group: 1000\n          hostname: app.test\n" +
		"  - kind: command\n    spec:\n      group: 1000\n      command: [/bin/sh, -c, \"cat >/dev/null\"]\n"
	l := plugListener(t, plugConfig(port, "5s", "", outputs), nil)
	plugAnnounce(t, port, "127.1.2.3")
	l.waitLog(15*time.Second, "eventlog join", plugEvent("address joined", "127.1.2.3", 0))
	plugWaitDNS(t, dnsPort, 15*time.Second, "127.1.2.3")
	running := plugWaitPlugins(t, l, 15*time.Second, nil, plugBuiltins...)
	procs := plugAllKilledOnCleanup(t, running)

	took := plugTerm(t, l)
	if l.err != nil {
		t.Errorf("the listener exited with %v after SIGTERM, want status 0", l.err)
	}
	if took >= 8*time.Second {
		t.Errorf("the listener took %v to exit after SIGTERM, want < 8s", took.Round(time.Millisecond))
	}
	t.Logf("exited %v after SIGTERM", took.Round(time.Millisecond))
	if alive := plugWaitGone(procs, time.Second); len(alive) > 0 {
		t.Errorf("plugin processes still run after the listener exited: %v", alive)
	}
	if n := l.count(msgIs("output plugin failed; restarting")); n != 0 {
		t.Errorf("%d output failures before or during the shutdown", n)
	}
	plugNoCrash(t, l)
}

// TestPluginOutOfTreeHello: the SDK's example plugin, built as a separate
// executable, runs from the plugins directory named by the flag, the
// environment or the configuration.
func TestPluginOutOfTreeHello(t *testing.T) {
	dir := plugDir(t)
	plugHello(t, dir)
	out := "  - kind: eventlog\n  - kind: hello\n    spec:\n      group: 1000\n      greeting: Welcome\n"
	tests := []struct {
		name string
		top  string
		env  []string
		args []string
	}{
		{"flag", "", []string{"RGAP_PLUGINS_DIR=/nonexistent"}, []string{"--plugins-dir", dir}},
		{"environment", "plugins_dir: /nonexistent\n", []string{"RGAP_PLUGINS_DIR=" + dir}, nil},
		{"configuration", "plugins_dir: " + dir + "\n", nil, nil},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			port := freeUDPPort(t, "udp4", "127.0.0.1")
			l := plugListener(t, plugConfig(port, "5s", tc.top, out), tc.env, tc.args...)
			plugAnnounce(t, port, "127.1.2.3")
			l.waitLog(15*time.Second, "hello's greeting", func(x logLine) bool {
				return x.msg() == "Welcome" && x.str("kind") == "hello" && x.str("output") == "1" &&
					x.str("address") == "127.1.2.3" && x.str("group") == "1000"
			})
			l.stop(10 * time.Second)
			plugNoCrash(t, l)
		})
	}
}

// TestPluginPluginsCommand: `rgap plugins` lists the built-in kinds and the
// out-of-tree plugins with their versions, and names the reason a file is
// refused.
func TestPluginPluginsCommand(t *testing.T) {
	dir := plugDir(t)
	hello := plugHello(t, dir)
	bad := plugScript(t, dir, "bad", "exit 0\n")
	if err := os.Chmod(bad, 0o775); err != nil { //nolint:gosec // group-writable on purpose: the host must refuse it
		t.Fatal(err)
	}
	code, stdout, stderr := runRgap(t, nil, "plugins", "--plugins-dir", dir)
	if code != 1 {
		t.Errorf("exit %d with a refused plugin file, want 1; stderr: %s", code, stderr)
	}
	rows := map[string]string{}
	for _, line := range strings.Split(strings.TrimSpace(stdout), "\n") {
		if f := strings.Fields(line); len(f) > 0 {
			rows[f[0]] = line
		}
	}
	check := func(kind, pattern string) {
		t.Helper()
		if !regexp.MustCompile(pattern).MatchString(rows[kind]) {
			t.Errorf("row of %s is %q, want it to match %q\nwhole output:\n%s", kind, rows[kind], pattern, stdout)
		}
	}
	for _, k := range plugBuiltins {
		check(k, `^`+k+`\s+built-in\s+\d+\.\d+\.\d+\S*\s+\S+\s+ok$`)
	}
	check("hello", `^hello\s+`+regexp.QuoteMeta(hello)+`\s+0\.1\.0\s+\S+\s+ok$`)
	check("bad", `^bad\s+`+regexp.QuoteMeta(bad)+`\s+.*refused: .*writable`)

	// Without the refused file everything is fine.
	if err := os.Remove(bad); err != nil {
		t.Fatal(err)
	}
	if code, stdout, stderr := runRgap(t, nil, "plugins", "--plugins-dir", dir); code != 0 || !strings.Contains(stdout, "hello") {
		t.Errorf("exit %d, output %q, stderr %q; want status 0 listing hello", code, stdout, stderr)
	}
}

// TestPluginSHA256Pin: an out-of-tree plugin whose file does not match its
// sha256 pin, or that others may modify, is never executed and the listener
// refuses to start, naming the output; the right pin lets it run.
func TestPluginSHA256Pin(t *testing.T) {
	dir := plugDir(t)
	hello := plugHello(t, dir)
	marker := filepath.Join(t.TempDir(), "marker")
	script := plugScript(t, dir, "marker", "touch "+marker+"\nexit 1\n")
	writable := plugScript(t, dir, "writable", "touch "+marker+"\nexit 1\n")
	if err := os.Chmod(writable, 0o775); err != nil { //nolint:gosec // group-writable on purpose: the host must refuse it
		t.Fatal(err)
	}
	wrongPin := plugSHA256(t, hello) // a real digest, of another file

	tests := []struct {
		name   string
		output string
		want   []string // each a regexp on stderr
	}{
		{"wrong pin", "  - kind: marker\n    sha256: " + wrongPin + "\n",
			[]string{`output 1 \(kind "marker"\)`, `mismatch`, regexp.QuoteMeta(script)}},
		{"wrong pin in capitals", "  - kind: marker\n    sha256: " + strings.ToUpper(wrongPin) + "\n",
			[]string{`output 1 \(kind "marker"\)`, `mismatch`}},
		{"group-writable file", "  - kind: writable\n",
			[]string{`output 1 \(kind "writable"\)`, `writable`, regexp.QuoteMeta(writable)}},
		{"pin on a built-in kind", "  - kind: noop\n    sha256: " + wrongPin + "\n",
			[]string{`output 1 \(kind "noop"\)`, `sha256`, `built-in`}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfgDir := t.TempDir()
			path := writeConfig(t, cfgDir, plugConfig(freeUDPPort(t, "udp4", "127.0.0.1"), "5s", "", "  - kind: eventlog\n"+tc.output))
			code, _, stderr := runRgap(t, nil, "--log-format", "json", "listener", "-c", path, "--plugins-dir", dir)
			if code == 0 {
				t.Errorf("listener exited 0, want a refusal")
			}
			for _, w := range tc.want {
				if !regexp.MustCompile(w).MatchString(stderr) {
					t.Errorf("stderr does not match %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, `kind "eventlog"`) {
				t.Errorf("stderr blames the valid eventlog output:\n%s", stderr)
			}
			if _, err := os.Stat(marker); err == nil {
				t.Fatalf("the refused plugin was executed (%s exists)", marker)
			}
		})
	}

	t.Run("right pin", func(t *testing.T) {
		port := freeUDPPort(t, "udp4", "127.0.0.1")
		out := "  - kind: eventlog\n  - kind: hello\n    sha256: " + plugSHA256(t, hello) + "\n    spec:\n      group: 1000\n"
		l := plugListener(t, plugConfig(port, "5s", "", out), nil, "--plugins-dir", dir)
		plugAnnounce(t, port, "127.1.2.3")
		l.waitLog(15*time.Second, "hello's greeting", func(x logLine) bool {
			return x.msg() == "Hello" && x.str("kind") == "hello" && x.str("address") == "127.1.2.3"
		})
		l.stop(10 * time.Second)
		plugNoCrash(t, l)
	})
}

// TestPluginBrokenAtStart: plugins that crash at start, break the go-plugin
// handshake or never complete it make the listener exit non-zero with an
// error naming the output index and kind, within the host's start timeout
// (10s) and never hanging; nothing they started survives.
func TestPluginBrokenAtStart(t *testing.T) {
	dir := plugDir(t)
	tests := []struct {
		kind string
		body string
		want string // regexp on stderr, besides the output's name
		// limit is how long the listener may take to give up. The broken
		// plugins sleep 60s, so a host that waits for them instead of
		// timing out its start (10s) fails this; the slack above 10s is for
		// a loaded CI machine and the race detector.
		limit time.Duration
	}{
		{"crash", "echo 'cannot open /var/lib/crash/state.db' >&2\nexit 1\n",
			`plugin did not start.*cannot open /var/lib/crash/state\.db`, 40 * time.Second},
		{"exits-cleanly", "exit 0\n", `plugin did not start`, 40 * time.Second},
		{"garbage-handshake", "echo $$ >\"$0.pid\"\necho 'Hello, I am not a plugin'\nexec sleep 60\n",
			`plugin did not start.*Hello, I am not a plugin`, 40 * time.Second},
		{"wrong-protocol", "echo $$ >\"$0.pid\"\necho '1|99|unix|/tmp/nowhere.sock|grpc'\nexec sleep 60\n",
			`plugin did not start`, 40 * time.Second},
		{"silent", "echo $$ >\"$0.pid\"\nexec sleep 60\n",
			`plugin did not start`, 40 * time.Second},
	}
	for _, tc := range tests {
		t.Run(tc.kind, func(t *testing.T) {
			script := plugScript(t, dir, tc.kind, tc.body)
			cfgDir := t.TempDir()
			path := writeConfig(t, cfgDir, plugConfig(freeUDPPort(t, "udp4", "127.0.0.1"), "5s", "", "  - kind: eventlog\n  - kind: "+tc.kind+"\n"))
			began := time.Now()
			code, _, stderr := runRgap(t, nil, "--log-format", "json", "listener", "-c", path, "--plugins-dir", dir)
			took := time.Since(began)
			if code == 0 {
				t.Errorf("listener exited 0, want a start failure")
			}
			for _, w := range []string{`output 1 \(kind "` + tc.kind + `"\)`, tc.want} {
				if !regexp.MustCompile(w).MatchString(stderr) {
					t.Errorf("stderr does not match %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stderr, `kind "eventlog"`) {
				t.Errorf("stderr blames the valid eventlog output:\n%s", stderr)
			}
			for _, bad := range []string{"panic: ", "fatal error: ", "DATA RACE"} {
				if strings.Contains(stderr, bad) {
					t.Errorf("listener crashed (%q):\n%s", bad, stderr)
				}
			}
			if took > tc.limit {
				t.Errorf("listener took %v to give up, want <= %v", took.Round(time.Millisecond), tc.limit)
			}
			b, err := os.ReadFile(script + ".pid")
			if err != nil && strings.Contains(tc.body, ".pid") {
				t.Errorf("the broken plugin never ran: %v", err)
			}
			if err == nil {
				pid, _ := strconv.Atoi(strings.TrimSpace(string(b)))
				_, state, start, ok := plugStat(pid)
				if ok && state != "Z" {
					p := plugProc{pid: pid, start: start}
					plugKillOnCleanup(t, p)
					if alive := plugWaitGone([]plugProc{p}, 2*time.Second); len(alive) > 0 {
						t.Errorf("the broken plugin (pid %d) still runs after the listener gave up", pid)
					}
				}
			}
		})
	}
}

// TestPluginCrashLoop: a plugin that passes validation but then crashes at
// every start is restarted with a growing backoff, while the listener and
// the other outputs keep working and SIGTERM still stops everything.
func TestPluginCrashLoop(t *testing.T) {
	dir := plugDir(t)
	hello := plugHello(t, t.TempDir())
	// The first start (validation) is the real plugin; every later one dies.
	plugScript(t, dir, "flaky", "if [ -e \"$0.validated\" ]; then echo 'flaky: boom' >&2; exit 1; fi\n"+
		"touch \"$0.validated\"\nexec "+hello+"\n")
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(port, "5s", "", "  - kind: eventlog\n  - kind: flaky\n    spec:\n      group: 1000\n"), nil, "--plugins-dir", dir)
	failed := plugFrom("flaky", 1, "output plugin failed; restarting")
	l.waitN(20*time.Second, 4, "four restarts of the flaky output", failed)
	plugAnnounce(t, port, "127.1.2.3")
	l.waitLog(15*time.Second, "eventlog join during the crash loop", plugEvent("address joined", "127.1.2.3", 0))

	var backoffs []string
	l.mu.Lock()
	for _, x := range l.logs {
		if failed(x) {
			if !strings.Contains(x.str("error"), "flaky: boom") {
				t.Errorf("the failure does not show the plugin's stderr: %v", x)
			}
			backoffs = append(backoffs, x.str("backoff"))
			if want := strconv.Itoa(len(backoffs)); x.str("consecutive_failures") != want {
				t.Errorf("consecutive_failures = %q, want %s", x.str("consecutive_failures"), want)
			}
		}
	}
	l.mu.Unlock()
	var prev time.Duration
	for _, b := range backoffs[:4] {
		d, err := time.ParseDuration(b)
		if err != nil {
			// hclog writes durations as nanoseconds in JSON.
			n, err2 := strconv.ParseFloat(b, 64)
			if err2 != nil {
				t.Fatalf("backoff %q: %v", b, err)
			}
			d = time.Duration(n)
		}
		if d <= prev {
			t.Errorf("backoffs %v do not grow", backoffs)
			break
		}
		prev = d
	}
	if n := l.count(plugFrom("eventlog", 0, "output plugin failed; restarting")); n != 0 {
		t.Errorf("the eventlog output failed %d times", n)
	}
	began := time.Now()
	l.stop(8 * time.Second)
	t.Logf("exited %v after SIGTERM", time.Since(began).Round(time.Millisecond))
	plugNoCrash(t, l)
}

// TestPluginGarbageOnStderr: a plugin that floods its stderr with lines
// that are not log entries (or are malformed ones) does not take the
// listener down: its own log entries still come through, the other outputs
// keep working, and the garbage stays out of the log at info level.
func TestPluginGarbageOnStderr(t *testing.T) {
	dir := plugDir(t)
	plugBuild(t, "github.com/rgap-project/rgap/internal/e2e/testdata/plugins/noisy", filepath.Join(dir, "rgap-plugin-noisy"))
	port, dnsPort := plugPorts(t)
	l := plugListener(t, plugConfig(port, "5s", "", "  - kind: eventlog\n"+plugDNSOutput(dnsPort)+"  - kind: noisy\n"), nil, "--plugins-dir", dir)
	tick := plugFrom("noisy", 2, "noisy tick")
	l.waitN(15*time.Second, 10, "10 noisy ticks", tick)

	plugAnnounce(t, port, "127.1.2.3")
	l.waitLog(15*time.Second, "eventlog join while noisy floods", plugEvent("address joined", "127.1.2.3", 0))
	plugWaitDNS(t, dnsPort, 15*time.Second, "127.1.2.3")
	n := l.count(tick)
	l.waitN(15*time.Second, n+10, "10 more noisy ticks", tick)

	if n := l.count(func(x logLine) bool { return x.msg() == "output plugin failed; restarting" }); n != 0 {
		t.Errorf("%d output failures while noisy flooded its stderr", n)
	}
	l.mu.Lock()
	for _, line := range l.raw {
		for _, g := range []string{"this is not JSON at all", "half a line", "not json either", "LLLLLLLL", "xxxxxxxx"} {
			if strings.Contains(line, g) {
				t.Errorf("plugin stderr garbage %q in the listener's log at info level: %.200s", g, line)
			}
		}
	}
	l.mu.Unlock()
	l.stop(10 * time.Second)
	plugNoCrash(t, l)
}

// TestPluginNeverSeesPSK: a plugin that logs its whole environment, its
// arguments, its spec and its group information shows no key and none of
// the listener's other environment variables.
func TestPluginNeverSeesPSK(t *testing.T) {
	dir := plugDir(t)
	plugBuild(t, "github.com/rgap-project/rgap/internal/e2e/testdata/plugins/envdump", filepath.Join(dir, "rgap-plugin-envdump"))
	const secret = "s3cr3t-value-of-the-test"
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	env := []string{"RGAP_PSK=" + plugPSK, "RGAP_SECRET_TEST=" + secret, "LC_ALL=C"}
	l := plugListener(t, plugConfig(port, "5s", "", "  - kind: envdump\n    spec:\n      note: hello from the spec\n"), env, "--plugins-dir", dir)
	envLine := l.waitLog(15*time.Second, "the plugin's environment", plugFrom("envdump", 0, "envdump environment"))
	specLine := l.waitLog(15*time.Second, "the plugin's spec", plugFrom("envdump", 0, "envdump spec"))

	// The dump is real: it shows what the plugin should get.
	for _, want := range []string{"PATH=", "LC_ALL=C"} {
		if !strings.Contains(envLine.str("environ"), want) || !strings.Contains(envLine.str("proc_environ"), want) {
			t.Errorf("the plugin's environment lacks %s: %v", want, envLine)
		}
	}
	if !strings.Contains(specLine.str("spec"), "hello from the spec") || !strings.Contains(specLine.str("groups"), "1000") {
		t.Errorf("the plugin's spec dump lacks its spec or group: %v", specLine)
	}
	k, err := hex.DecodeString(plugPSK)
	if err != nil {
		t.Fatal(err)
	}
	l.stop(10 * time.Second)
	l.mu.Lock()
	defer l.mu.Unlock()
	for _, line := range l.raw {
		for _, s := range []string{plugPSK, strings.ToUpper(plugPSK), plugPSK[:16], "RGAP_PSK", "RGAP_SECRET_TEST", secret, string(k[:8]), fmt.Sprintf("%v", k[:8])} { // the key's bytes raw and as the decimal list %v prints
			if strings.Contains(line, s) {
				t.Errorf("the listener's log shows %q: %s", s, line)
			}
		}
	}
}
