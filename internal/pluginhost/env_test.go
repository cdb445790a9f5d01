package pluginhost

import (
	"os"
	"slices"
	"strconv"
	"testing"

	"github.com/hashicorp/go-hclog"
)

func TestPluginEnvAllowlist(t *testing.T) {
	host := []string{
		"PATH=/usr/bin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "LC_TIME=de_DE.UTF-8",
		"RGAP_PSK=0123", "SSH_AUTH_SOCK=/tmp/agent", "NOTIFY_SOCKET=/run/x", "EXTRA=1",
		"RGAP_PLUGIN_PARENT_PID=1", "RGAP_PLUGIN_LOG_LEVEL=trace", "GOMAXPROCS=8", "RGAP_PLUGIN_HOST_GOMAXPROCS=7",
		"MALFORMED", "PATHOLOGICAL=1",
	}
	got := pluginEnv(host, []string{"EXTRA"}, hclog.Debug)
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "LC_TIME=de_DE.UTF-8", "EXTRA=1",
		"RGAP_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid()),
		"GOMAXPROCS=1", "RGAP_PLUGIN_HOST_GOMAXPROCS=1", // one scheduler thread; the host's GOMAXPROCS stays with the host
		"RGAP_PLUGIN_LOG_LEVEL=debug", // the host's level, never the inherited variable
	}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv =\n%q\nwant\n%q", got, want)
	}
}

// TestPluginEnvPassedGOMAXPROCS: an operator who passes GOMAXPROCS through
// PassEnv gets exactly that value, without the host-default marker.
func TestPluginEnvPassedGOMAXPROCS(t *testing.T) {
	got := pluginEnv([]string{"GOMAXPROCS=4"}, []string{"GOMAXPROCS"}, hclog.NoLevel)
	want := []string{"GOMAXPROCS=4", "RGAP_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid())}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv =\n%q\nwant\n%q", got, want)
	}
}

// TestPluginEnvNeverPassesServiceManagerVariables: NOTIFY_SOCKET and the
// watchdog and socket-activation variables stay with the listener even when
// PassEnv names them, so no plugin can tell systemd the listener is ready,
// stopping or alive.
func TestPluginEnvNeverPassesServiceManagerVariables(t *testing.T) {
	names := []string{"NOTIFY_SOCKET", "WATCHDOG_USEC", "WATCHDOG_PID", "LISTEN_FDS", "LISTEN_PID", "LISTEN_FDNAMES"}
	var host []string
	for _, n := range names {
		host = append(host, n+"=1")
	}
	got := pluginEnv(append(host, "KEEP=1"), append(names, "KEEP"), hclog.NoLevel)
	want := []string{"KEEP=1", "RGAP_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid()), "GOMAXPROCS=1", "RGAP_PLUGIN_HOST_GOMAXPROCS=1"}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv =\n%q\nwant\n%q", got, want)
	}
}
