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
		"RGAP_PLUGIN_PARENT_PID=1", "RGAP_PLUGIN_LOG_LEVEL=trace", "MALFORMED", "PATHOLOGICAL=1",
	}
	got := pluginEnv(host, []string{"EXTRA"}, hclog.Debug)
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "LC_TIME=de_DE.UTF-8", "EXTRA=1",
		"RGAP_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid()),
		"RGAP_PLUGIN_LOG_LEVEL=debug", // the host's level, never the inherited variable
	}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv =\n%q\nwant\n%q", got, want)
	}
}
