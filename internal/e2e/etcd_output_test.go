package e2e

// End-to-end tests of the etcd output: the real listener, the
// rgap-plugin-etcd executable built from plugins/etcd/cmd found in a plugins
// directory, agents announcing, and a real etcd server (Debian's etcd-server;
// the tests are skipped, saying so, when it is not installed).

import (
	"fmt"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/rgap-project/rgap/plugins/etcd/etcdtest"
)

// etcdPluginDir builds rgap-plugin-etcd into a new plugins directory.
func etcdPluginDir(t *testing.T) string {
	t.Helper()
	dir := plugDir(t)
	plugBuild(t, "github.com/rgap-project/rgap/plugins/etcd/cmd/rgap-plugin-etcd", filepath.Join(dir, "rgap-plugin-etcd"))
	return dir
}

// etcdOutput configures an etcd output for instance with lease_ttl ttl.
func etcdOutput(endpoint, instance, ttl string) string {
	return fmt.Sprintf("  - kind: etcd\n    spec:\n      endpoints: [%s]\n      instance: %s\n      lease_ttl: %s\n", endpoint, instance, ttl)
}

// etcdWaitKeys waits until the keys under prefix are exactly want (sorted,
// one per line), returning how long that took.
func etcdWaitKeys(t *testing.T, srv *etcdtest.Server, prefix, want string, timeout time.Duration) time.Duration {
	t.Helper()
	cli := srv.Client()
	start := time.Now()
	var got string
	for time.Since(start) < timeout {
		got = strings.Join(etcdtest.Keys(t, cli, prefix), "\n")
		if got == want {
			return time.Since(start)
		}
		time.Sleep(20 * time.Millisecond)
	}
	t.Fatalf("keys under %s after %v:\n%s\nwant:\n%s", prefix, timeout, got, want)
	return 0
}

// TestEtcdOutputSIGKILL: the keys of a listener killed with SIGKILL vanish
// within lease_ttl + 1 s, whether its etcd plugin process gets the chance to
// revoke its lease (only the listener killed: the plugin sees its parent
// gone and stops) or not (the plugin killed too, at the same moment: only
// the lease's expiry removes them).
func TestEtcdOutputSIGKILL(t *testing.T) {
	srv := etcdtest.Start(t)
	dir := etcdPluginDir(t)
	for _, killPlugin := range []bool{false, true} {
		t.Run(fmt.Sprintf("plugin_killed=%v", killPlugin), func(t *testing.T) {
			port := freeUDPPort(t, "udp4", "127.0.0.1")
			l := plugListener(t, plugConfig(port, "5s", "", etcdOutput(srv.Endpoint(), "lb1", "2s")), nil, "--plugins-dir", dir)
			running := plugWaitPlugins(t, l, 15*time.Second, nil, "etcd")
			plugKillOnCleanup(t, running["etcd"])
			plugAgent(t, port, "127.0.0.11")
			plugAgent(t, port, "127.0.0.12")
			etcdWaitKeys(t, srv, "/rgap/", "/rgap/groups/1000/members/lb1/127.0.0.11\n/rgap/groups/1000/members/lb1/127.0.0.12\n/rgap/groups/1000/ready/lb1", 15*time.Second)

			if err := l.cmd.Process.Kill(); err != nil {
				t.Fatal(err)
			}
			if killPlugin {
				if err := syscall.Kill(running["etcd"].pid, syscall.SIGKILL); err != nil {
					t.Fatal(err)
				}
			}
			took := etcdWaitKeys(t, srv, "/rgap/", "", 3*time.Second) // lease_ttl + 1s
			t.Logf("keys gone %v after the SIGKILL", took.Round(time.Millisecond))
		})
	}
}

// TestEtcdOutputTwoListeners: two listeners with different instances
// publish the same group side by side; stopping one removes only its keys.
func TestEtcdOutputTwoListeners(t *testing.T) {
	srv := etcdtest.Start(t)
	dir := etcdPluginDir(t)
	port1 := freeUDPPort(t, "udp4", "127.0.0.1")
	port2 := freeUDPPort(t, "udp4", "127.0.0.1")
	l1 := plugListener(t, plugConfig(port1, "5s", "", etcdOutput(srv.Endpoint(), "lb1", "10s")), nil, "--plugins-dir", dir)
	l2 := plugListener(t, plugConfig(port2, "5s", "", etcdOutput(srv.Endpoint(), "lb2", "10s")), nil, "--plugins-dir", dir)
	plugAgent(t, port1, "127.0.0.21")
	plugAgent(t, port2, "127.0.0.22")
	plugAgent(t, port2, "127.0.0.23")
	etcdWaitKeys(t, srv, "/rgap/", strings.Join([]string{
		"/rgap/groups/1000/members/lb1/127.0.0.21",
		"/rgap/groups/1000/members/lb2/127.0.0.22",
		"/rgap/groups/1000/members/lb2/127.0.0.23",
		"/rgap/groups/1000/ready/lb1",
		"/rgap/groups/1000/ready/lb2",
	}, "\n"), 15*time.Second)
	l2.stop(10 * time.Second)
	etcdWaitKeys(t, srv, "/rgap/", "/rgap/groups/1000/members/lb1/127.0.0.21\n/rgap/groups/1000/ready/lb1", 5*time.Second)
	l1.stop(10 * time.Second)
	plugNoCrash(t, l1)
	plugNoCrash(t, l2)
}
