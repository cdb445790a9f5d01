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
