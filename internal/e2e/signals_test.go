package e2e

// The listener's signals, exit codes and what it leaves in the temporary
// directory. Each listener here runs with a TMPDIR of its own, so that the
// checks of that directory do not see other tests' files.

import (
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/tempdir"
)

// sigIsRunDirOf reports whether name is the runtime directory of the
// listener with PID pid.
func sigIsRunDirOf(name string, pid int) bool {
	p := "rgap-" + strconv.Itoa(pid)
	return name == p || strings.HasPrefix(name, p+"-")
}

// TestListenerSurvivesSIGHUP: SIGHUP used to kill the listener (exit 129,
// no totals, a socket folder per output left in /tmp). Now it reloads: with
// the file unchanged, every plugin keeps its process, a member announced
// after the SIGHUP still joins, and SIGTERM later stops it with status 0
// and its totals, leaving nothing in TMPDIR.
func TestListenerSurvivesSIGHUP(t *testing.T) {
	tmp := tempdir.Short(t, "rgs")
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := plugListener(t, plugConfig(port, "30s", "", "  - kind: eventlog\n  - kind: noop\n"), []string{"TMPDIR=" + tmp})
	before := plugWaitPlugins(t, l, 15*time.Second, nil, "eventlog", "noop")
	if err := l.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		t.Fatal(err)
	}
	l.waitLog(30*time.Second, "the reload", msgIs("configuration reloaded"))
	for kind, p := range before {
		if !plugAlive(p) {
			t.Errorf("the %s plugin %v did not survive a reload of an unchanged file", kind, p)
		}
	}
	plugAnnounce(t, port, "127.1.2.3")
	l.waitLog(15*time.Second, "the join after SIGHUP", plugEvent("address joined", "127.1.2.3", 0))
	l.stop(30 * time.Second)
	tot := l.waitLog(time.Second, "ingest totals", msgIs("ingest totals"))
	if tot.num("joined") != 1 {
		t.Errorf("ingest totals joined = %v, want 1", tot["joined"])
	}
	if n := l.count(msgIs("output totals")); n != 2 {
		t.Errorf("%d output totals lines, want 2", n)
	}
	if left := tempdir.Names(t, tmp); len(left) != 0 {
		t.Errorf("TMPDIR holds %v after a clean stop, want nothing", left)
	}
	plugNoCrash(t, l)
}

// TestSocketFoldersOfKilledListenerRemoved: the plugins' socket folders
// are in one directory per listener. A listener killed with SIGKILL leaves
// it behind; the next listener removes it when it starts its outputs, and
// removes its own when it stops.
func TestSocketFoldersOfKilledListenerRemoved(t *testing.T) {
	tmp := tempdir.Short(t, "rgs")
	env := []string{"TMPDIR=" + tmp}
	port, dnsPort := plugPorts(t)
	cfg := plugConfig(port, "30s", "", "  - kind: eventlog\n"+plugDNSOutput(dnsPort)+"  - kind: noop\n")

	first := plugListener(t, cfg, env)
	running := plugWaitPlugins(t, first, 15*time.Second, nil, "eventlog", "dns", "noop")
	procs := plugAllKilledOnCleanup(t, running)
	left := tempdir.Names(t, tmp)
	if len(left) != 1 || !sigIsRunDirOf(left[0], first.cmd.Process.Pid) {
		t.Fatalf("TMPDIR holds %v while the first listener runs, want its one runtime directory", left)
	}
	if socks := tempdir.Names(t, filepath.Join(tmp, left[0])); len(socks) != 3 {
		t.Errorf("the runtime directory holds %v, want the three outputs' socket folders", socks)
	}
	plugKillListener(t, first, procs, "plugins outlived the killed listener")

	second := plugListener(t, cfg, env)
	plugWaitPlugins(t, second, 15*time.Second, nil, "eventlog", "dns", "noop")
	for _, name := range tempdir.Names(t, tmp) {
		if !sigIsRunDirOf(name, second.cmd.Process.Pid) {
			t.Errorf("TMPDIR still holds %s after the next listener started", name)
		}
	}
	second.stop(30 * time.Second)
	if left := tempdir.Names(t, tmp); len(left) != 0 {
		t.Errorf("TMPDIR holds %v after a clean stop, want nothing", left)
	}
}

// TestListenerExitStatus: 2 for a bad command line or configuration,
// including an output spec its plugin rejects and an output kind nothing
// serves; 1 for a failure while starting, such as a socket that cannot be
// opened.
func TestListenerExitStatus(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	empty := plugDir(t)
	cases := []struct {
		name string
		cfg  string // "" runs without -c
		args []string
		code int
		want string // in stderr
	}{
		{name: "no config", code: 2, want: "--config is required"},
		{name: "unknown key", cfg: plugConfig(port, "30s", "bogus: 1\n", "  - kind: noop\n"), code: 2, want: "bogus"},
		{name: "spec rejected by its plugin", cfg: plugConfig(port, "30s", "", "  - kind: log\n    spec:\n      interval: forever\n"),
			code: 2, want: `output 0 (kind "log")`},
		{name: "unknown output kind", cfg: plugConfig(port, "30s", "", "  - kind: nosuchkind\n"), args: []string{"--plugins-dir", empty},
			code: 2, want: "plugin not found"},
		{name: "socket cannot be opened", cfg: strings.Replace(plugConfig(port, "30s", "", "  - kind: noop\n"),
			"127.0.0.1:"+strconv.Itoa(port), "192.0.2.1:"+strconv.Itoa(port), 1), code: 1, want: "192.0.2.1"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			args := []string{"listener"}
			if tc.cfg != "" {
				args = append(args, "-c", writeConfig(t, t.TempDir(), tc.cfg))
			}
			args = append(args, tc.args...)
			code, _, stderr := runRgap(t, []string{"TMPDIR=" + tempdir.Short(t, "rgs")}, args...)
			if code != tc.code || !strings.Contains(stderr, tc.want) {
				t.Errorf("exit %d, want %d with %q in stderr:\n%s", code, tc.code, tc.want, stderr)
			}
		})
	}
}
