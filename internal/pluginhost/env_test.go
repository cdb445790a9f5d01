package pluginhost

import (
	"os"
	"slices"
	"strconv"
	"testing"
)

func TestPluginEnvAllowlist(t *testing.T) {
	host := []string{
		"PATH=/usr/bin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "LC_TIME=de_DE.UTF-8",
		"RGAP_PSK=0123", "SSH_AUTH_SOCK=/tmp/agent", "NOTIFY_SOCKET=/run/x", "EXTRA=1",
		"RGAP_PLUGIN_PARENT_PID=1", "MALFORMED", "PATHOLOGICAL=1",
	}
	got := pluginEnv(host, []string{"EXTRA"})
	want := []string{
		"PATH=/usr/bin:/bin", "HOME=/root", "TZ=UTC", "LANG=C.UTF-8", "LC_TIME=de_DE.UTF-8", "EXTRA=1",
		"RGAP_PLUGIN_PARENT_PID=" + strconv.Itoa(os.Getpid()),
	}
	if !slices.Equal(got, want) {
		t.Errorf("pluginEnv =\n%q\nwant\n%q", got, want)
	}
}
