package pluginhost

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/rgap-project/rgap/internal/tempdir"
)

// deadPID returns the PID of a process that has exited.
func deadPID(t *testing.T) int {
	t.Helper()
	c := exec.Command("/bin/true")
	if err := c.Run(); err != nil {
		t.Fatal(err)
	}
	return c.Process.Pid
}

// livePID returns the PID of a process that runs until the test ends.
func livePID(t *testing.T) int {
	t.Helper()
	c := exec.Command("/bin/sleep", "600")
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Process.Kill(); _ = c.Wait() })
	return c.Process.Pid
}

// The sweep removes only real directories named rgap-<pid>-* of this user
// whose process is gone; everything else in the temporary directory stays.
func TestSweepRunDirs(t *testing.T) {
	base := t.TempDir()
	dead, live, self := strconv.Itoa(deadPID(t)), strconv.Itoa(livePID(t)), strconv.Itoa(os.Getpid())
	elsewhere := filepath.Join(t.TempDir(), "target")
	if err := os.Mkdir(elsewhere, 0o700); err != nil {
		t.Fatal(err)
	}
	cases := []struct {
		name    string
		make    func(path string) error
		removed bool
	}{
		{"rgap-" + dead + "-123", mkdirWithSocketDir, true},
		{"rgap-" + dead + "-empty", func(p string) error { return os.Mkdir(p, 0o700) }, true},
		{"rgap-" + live + "-123", mkdirWithSocketDir, false},
		{"rgap-" + self + "-123", mkdirWithSocketDir, false},
		{"rgap-" + dead + "-link", func(p string) error { return os.Symlink(elsewhere, p) }, false},
		{"rgap-" + dead + "-file", func(p string) error { return os.WriteFile(p, nil, 0o600) }, false},
		{"rgap-" + dead, mkdirWithSocketDir, true},
		{"rgap-" + dead + "-", func(p string) error { return os.Mkdir(p, 0o700) }, false},
		{"rgap-0" + dead + "-123", func(p string) error { return os.Mkdir(p, 0o700) }, false},
		{"rgap-e2e-123", func(p string) error { return os.Mkdir(p, 0o700) }, false},
		{"plugin-dir123", func(p string) error { return os.Mkdir(p, 0o700) }, false},
	}
	for _, c := range cases {
		if err := c.make(filepath.Join(base, c.name)); err != nil {
			t.Fatal(err)
		}
	}
	sweepRunDirs(base, hclog.NewNullLogger())
	left := tempdir.Names(t, base)
	for _, c := range cases {
		if got := !slices.Contains(left, c.name); got != c.removed {
			t.Errorf("%s: removed = %v, want %v", c.name, got, c.removed)
		}
	}
	if _, err := os.Stat(elsewhere); err != nil {
		t.Errorf("the target of a symbolic link was touched: %v", err)
	}
}

// isRunDirOf reports whether name is a runtime directory of process pid.
func isRunDirOf(name string, pid int) bool {
	p := "rgap-" + strconv.Itoa(pid)
	return name == p || strings.HasPrefix(name, p+"-")
}

func mkdirWithSocketDir(p string) error {
	if err := os.Mkdir(p, 0o700); err != nil {
		return err
	}
	return os.Mkdir(filepath.Join(p, "plugin-dir42"), 0o700)
}

// Every plugin's socket folder lives in one runtime directory of the host,
// which is gone once no plugin runs: after validation and after Run.
func TestRuntimeDirHoldsSocketFolders(t *testing.T) {
	dir := t.TempDir()
	base := tempdir.Short(t, "rd")
	opts := testOptions(t, dir)
	opts.RuntimeDir = base
	h := newHost(t, opts)
	outputs := []Output{{Index: 0, Kind: "good"}, {Index: 1, Kind: "good-b"}}
	if _, err := h.ValidateAll(context.Background(), outputs, testGroups); err != nil {
		t.Fatal(err)
	}
	if left := tempdir.Names(t, base); len(left) != 0 {
		t.Errorf("after validation the runtime base holds %v, want nothing", left)
	}
	feed := oneGroupFeed(64)
	stop := startRun(t, h, feed, outputs, testGroups)
	waitFor(t, 20*time.Second, "both plugins running", func() bool {
		return stateMatches(t, dir, "good", 1, []string{"192.0.2.1"}) && stateMatches(t, dir, "good-b", 1, []string{"192.0.2.1"})
	})
	left := tempdir.Names(t, base)
	if len(left) != 1 || !isRunDirOf(left[0], os.Getpid()) {
		t.Fatalf("while running the runtime base holds %v, want one rgap-%d directory", left, os.Getpid())
	}
	if fi, err := os.Stat(filepath.Join(base, left[0])); err != nil || fi.Mode().Perm() != 0o700 {
		t.Errorf("runtime directory: %v, %v; want mode 0700", fi.Mode(), err)
	}
	socks := tempdir.Names(t, filepath.Join(base, left[0]))
	if len(socks) != 2 || !strings.HasPrefix(socks[0], "plugin-dir") || !strings.HasPrefix(socks[1], "plugin-dir") {
		t.Errorf("runtime directory holds %v, want two plugin-dir* folders", socks)
	}
	stop()
	if left := tempdir.Names(t, base); len(left) != 0 {
		t.Errorf("after Run the runtime base holds %v, want nothing", left)
	}
}

// The runtime directory of a host killed with SIGKILL is removed by the
// next host when it starts its first plugin; a running host's is not.
func TestRuntimeDirOfKilledHostRemoved(t *testing.T) {
	dir := t.TempDir()
	base := tempdir.Short(t, "rd")
	other := filepath.Join(base, "rgap-"+strconv.Itoa(livePID(t))+"-1")
	if err := os.Mkdir(other, 0o700); err != nil {
		t.Fatal(err)
	}
	host := startFakeHost(t, dir, "TMPDIR="+base)
	if left := tempdir.Names(t, base); !slices.ContainsFunc(left, func(n string) bool { return isRunDirOf(n, host.Process.Pid) }) {
		t.Fatalf("the fake host's runtime directory is not in %s: %v", base, left)
	}
	plugin := readStarts(dir, "good")[0]
	if err := host.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	_ = host.Wait()
	waitFor(t, 10*time.Second, "plugin to die with its host", func() bool { return !alive(plugin) })

	opts := testOptions(t, dir)
	opts.RuntimeDir = base
	h := newHost(t, opts)
	if _, err := h.ValidateAll(context.Background(), []Output{{Kind: "good-c"}}, testGroups); err != nil {
		t.Fatal(err)
	}
	if left := tempdir.Names(t, base); !slices.Equal(left, []string{filepath.Base(other)}) {
		t.Errorf("after the next host started a plugin, %s holds %v; want only the live listener's %s",
			base, left, filepath.Base(other))
	}
}

// A runtime directory whose sockets could not be bound (a TMPDIR too long)
// is refused with an error that names it and says what to do.
func TestRuntimeDirTooLong(t *testing.T) {
	dir := t.TempDir()
	base := filepath.Join(tempdir.Short(t, "rd"), strings.Repeat("x", 70))
	if err := os.Mkdir(base, 0o700); err != nil {
		t.Fatal(err)
	}
	opts := testOptions(t, dir)
	opts.RuntimeDir = base
	h := newHost(t, opts)
	_, err := h.ValidateAll(context.Background(), []Output{{Kind: "good"}}, testGroups)
	if err == nil || !strings.Contains(err.Error(), base) || !strings.Contains(err.Error(), "set TMPDIR to a shorter directory") {
		t.Errorf("ValidateAll = %v, want an error naming %s and TMPDIR", err, base)
	}
	if got := readStarts(dir, "good"); len(got) != 0 {
		t.Errorf("the plugin was started: %v", got)
	}
}
