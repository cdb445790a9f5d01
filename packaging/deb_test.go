// Package packaging holds the Debian package's sources (units, default
// configuration, maintainer scripts, build-deb.sh) and the test that
// installs the package it builds.
package packaging

import (
	"context"
	"net"
	"os"
	"os/exec"
	"os/user"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/tempdir"
)

// installed lists what the package puts on the system; each must exist
// after dpkg -i and be gone after dpkg --purge.
var installed = []string{
	"/usr/bin/rgap",
	"/lib/systemd/system/rgap.service",
	"/lib/systemd/system/rgap-agent.service",
	"/etc/rgap/rgap.yaml",
	"/etc/default/rgap-agent",
	"/usr/lib/rgap/plugins",
	"/usr/lib/rgap/plugins/rgap-plugin-etcd",
	"/usr/share/doc/rgap/README.md",
}

// run runs a command to completion (bounded) and returns its combined output.
func run(t *testing.T, name string, args ...string) (string, error) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	out, err := exec.CommandContext(ctx, name, args...).CombinedOutput() //nolint:gosec // the test's own fixed tools (dpkg, make, the installed rgap)
	return string(out), err
}

func mustRun(t *testing.T, name string, args ...string) string {
	t.Helper()
	out, err := run(t, name, args...)
	if err != nil {
		t.Fatalf("%s %s: %v\n%s", name, strings.Join(args, " "), err, out)
	}
	return out
}

// TestDebInstallRemove builds the package with `make deb`, installs it into
// the real system with dpkg -i, runs the installed binary and checks the
// default configuration (also as the service's user, and by running the
// listener on it until READY=1), verifies the units with systemd-analyze,
// then purges the package and checks that nothing is left. It runs only as
// root on a machine with dpkg where no rgap package, file or user exists
// yet (a CI machine), and never touches an existing installation.
func TestDebInstallRemove(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("not root: dpkg -i needs root")
	}
	for _, tool := range []string{"dpkg", "dpkg-deb", "make", "go"} {
		if _, err := exec.LookPath(tool); err != nil {
			t.Skipf("%s not installed", tool)
		}
	}
	if out, _ := run(t, "dpkg-query", "-W", "-f=${Status}", "rgap"); strings.Contains(out, "installed") || strings.Contains(out, "config-files") {
		t.Skipf("an rgap package is already on this machine (%s); not touching it", out)
	}
	for _, p := range append(installed, "/etc/rgap", "/usr/lib/rgap", "/var/lib/rgap") {
		if _, err := os.Lstat(p); err == nil {
			t.Skipf("%s exists already; not touching this machine", p)
		}
	}
	if _, err := user.Lookup("rgap"); err == nil {
		t.Skip("a user rgap exists already; not touching this machine")
	}

	tmp := t.TempDir()
	mustRun(t, "make", "-C", "..", "deb", "BIN="+tmp, "DEB_DIR="+tmp)
	debs, _ := filepath.Glob(filepath.Join(tmp, "rgap_*.deb"))
	if len(debs) != 1 {
		t.Fatalf("make deb made %v, want one rgap_*.deb", debs)
	}
	version := strings.TrimSuffix(strings.TrimPrefix(filepath.Base(debs[0]), "rgap_"), "_"+debArch(t)+".deb")

	t.Cleanup(func() {
		if out, err := run(t, "dpkg", "--purge", "rgap"); err != nil {
			t.Errorf("cleanup: dpkg --purge rgap: %v\n%s", err, out)
		}
	})
	mustRun(t, "dpkg", "-i", debs[0])
	for _, p := range installed {
		if _, err := os.Stat(p); err != nil {
			t.Errorf("after dpkg -i: %v", err)
		}
	}
	if out := mustRun(t, "/usr/bin/rgap", "version"); !strings.Contains(out, version) {
		t.Errorf("rgap version = %q, want the package version %s", out, version)
	}
	want := "/etc/rgap/rgap.yaml: ok: 1 listen entry, 1 group, 1 output (eventlog)\n"
	if out := mustRun(t, "/usr/bin/rgap", "check", "-c", "/etc/rgap/rgap.yaml"); out != want {
		t.Errorf("rgap check = %q, want %q", out, want)
	}
	checkModes(t)
	// The service runs as rgap: it must be able to read its key-holding file.
	if out := mustRun(t, "setpriv", "--reuid=rgap", "--regid=rgap", "--init-groups", "/usr/bin/rgap", "check", "-c", "/etc/rgap/rgap.yaml"); out != want {
		t.Errorf("rgap check as user rgap = %q, want %q", out, want)
	}
	runDefaultConfig(t)

	if _, err := exec.LookPath("systemd-analyze"); err != nil {
		t.Log("systemd-analyze not installed: units not verified")
	} else if out, err := run(t, "systemd-analyze", "verify", "/lib/systemd/system/rgap.service", "/lib/systemd/system/rgap-agent.service"); err != nil || out != "" {
		t.Errorf("systemd-analyze verify: %v\n%s", err, out)
	}

	mustRun(t, "dpkg", "-r", "rgap")
	if _, err := os.Stat("/usr/bin/rgap"); err == nil {
		t.Error("/usr/bin/rgap left after dpkg -r")
	}
	if _, err := os.Stat("/etc/rgap/rgap.yaml"); err != nil {
		t.Errorf("dpkg -r removed the conffile /etc/rgap/rgap.yaml (only --purge may): %v", err)
	}
	mustRun(t, "dpkg", "--purge", "rgap")
	for _, p := range append(installed, "/etc/rgap", "/usr/lib/rgap", "/var/lib/rgap", "/usr/share/doc/rgap") {
		if _, err := os.Lstat(p); err == nil {
			t.Errorf("%s left after dpkg --purge", p)
		}
	}
	if _, err := user.Lookup("rgap"); err == nil {
		t.Error("user rgap left after dpkg --purge")
	}
}

// debArch is the Debian architecture make deb builds for.
func debArch(t *testing.T) string {
	t.Helper()
	arch := strings.TrimSpace(mustRun(t, "go", "env", "GOARCH"))
	switch arch {
	case "386":
		return "i386"
	case "arm":
		return "armhf"
	}
	return arch
}

// checkModes: the files holding keys are not world-readable.
func checkModes(t *testing.T) {
	t.Helper()
	rgap, err := user.LookupGroup("rgap")
	if err != nil {
		t.Fatalf("postinst made no group rgap: %v", err)
	}
	for _, c := range []struct {
		path string
		mode os.FileMode
		gid  string
	}{
		{"/etc/rgap/rgap.yaml", 0o640, rgap.Gid},
		{"/etc/default/rgap-agent", 0o600, "0"},
	} {
		fi, err := os.Stat(c.path)
		if err != nil {
			t.Error(err)
			continue
		}
		st, _ := fi.Sys().(*syscall.Stat_t)
		if fi.Mode().Perm() != c.mode || st == nil || st.Uid != 0 || strconv.FormatUint(uint64(st.Gid), 10) != c.gid {
			t.Errorf("%s: mode %v owner %v, want %v root:%s", c.path, fi.Mode().Perm(), st, c.mode, c.gid)
		}
	}
}

// runDefaultConfig runs the installed listener on the default configuration
// as the service would (user rgap, TMPDIR of its own, NOTIFY_SOCKET), in a
// private network namespace so that its loopback port clashes with nothing,
// and waits for READY=1; SIGTERM must then stop it with status 0.
func runDefaultConfig(t *testing.T) {
	t.Helper()
	if _, err := exec.LookPath("unshare"); err != nil {
		t.Log("unshare not installed: the default configuration was not run")
		return
	}
	dir := tempdir.Short(t, "rgdeb")
	run := filepath.Join(dir, "run")
	sock := filepath.Join(dir, "notify")
	c, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: sock, Net: "unixgram"})
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = c.Close() }()
	mustRun(t, "install", "-d", "-o", "rgap", "-g", "rgap", "-m", "0750", run)
	if err := os.Chmod(dir, 0o755); err != nil { //nolint:gosec // user rgap must reach the socket
		t.Fatal(err)
	}
	if err := os.Chmod(sock, 0o777); err != nil { //nolint:gosec // as systemd's notify socket: anyone may send
		t.Fatal(err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	cmd := exec.CommandContext(ctx, "unshare", "-n", "sh", "-c", //nolint:gosec // fixed command line
		"ip link set lo up && exec setpriv --reuid=rgap --regid=rgap --init-groups /usr/bin/rgap listener -c /etc/rgap/rgap.yaml")
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "TMPDIR=" + run, "NOTIFY_SOCKET=" + sock}
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	_ = c.SetReadDeadline(time.Now().Add(30 * time.Second))
	buf := make([]byte, 4096)
	got := ""
	for !strings.HasPrefix(got, "READY=1") {
		n, err := c.Read(buf)
		if err != nil {
			_ = cmd.Process.Kill()
			_ = cmd.Wait()
			t.Fatalf("no READY=1 from the installed listener on the default configuration: %v\n%s", err, out.String())
		}
		got = string(buf[:n])
	}
	_ = cmd.Process.Signal(syscall.SIGTERM)
	if err := cmd.Wait(); err != nil {
		t.Errorf("installed listener after SIGTERM: %v\n%s", err, out.String())
	}
}
