package pluginhost

import (
	"os"
	"strconv"
	"strings"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/handshake"
)

// envAllowlist is what a plugin may see of the host's environment. go-plugin
// runs with SkipHostEnv, so everything else (credentials, NOTIFY_SOCKET,
// whatever an init system or an operator exported) stays in the host.
//   - PATH: the command output runs programs by name.
//   - HOME, TMPDIR: programs started by outputs expect them.
//   - TZ, LANG, LANGUAGE, LC_*: time stamps and messages in the operator's
//     zone and locale.
var envAllowlist = map[string]bool{
	"PATH": true, "HOME": true, "TMPDIR": true, "TZ": true, "LANG": true, "LANGUAGE": true,
}

// hostOnly names variables that belong to the listener's service manager
// and must never reach a plugin, even when named in Options.PassEnv: a
// plugin that sent READY=1, STOPPING=1 or WATCHDOG=1 to NOTIFY_SOCKET would
// speak for the listener (NotifyAccess=all units), and the watchdog and
// socket-activation variables describe the listener's process only.
var hostOnly = map[string]bool{
	"NOTIFY_SOCKET": true, "WATCHDOG_USEC": true, "WATCHDOG_PID": true,
	"LISTEN_FDS": true, "LISTEN_PID": true, "LISTEN_FDNAMES": true,
}

// pluginEnv builds a plugin's environment from the host's environment
// (environ, normally os.Environ()): the allowlist, the extra names, the
// host's PID for the SDK's parent watch, and the host's log level (so that
// `--log-level debug` reaches the plugins too). go-plugin appends its own
// handshake variables after these.
func pluginEnv(environ []string, extra []string, level hclog.Level) []string {
	pass := func(name string) bool {
		if hostOnly[name] {
			return false
		}
		if envAllowlist[name] || strings.HasPrefix(name, "LC_") {
			return true
		}
		for _, e := range extra {
			if e == name {
				return true
			}
		}
		return false
	}
	env := make([]string, 0, 16)
	for _, kv := range environ {
		name, _, ok := strings.Cut(kv, "=")
		if !ok || name == handshake.EnvParentPID || name == handshake.EnvLogLevel || name == handshake.EnvHostGOMAXPROCS {
			continue
		}
		if pass(name) {
			env = append(env, kv)
		}
	}
	env = append(env, handshake.EnvParentPID+"="+strconv.Itoa(os.Getpid()))
	if !pass("GOMAXPROCS") {
		// One scheduler thread from the start (see EnvHostGOMAXPROCS);
		// an operator who passes GOMAXPROCS through PassEnv overrides it.
		env = append(env, "GOMAXPROCS=1", handshake.EnvHostGOMAXPROCS+"=1")
	}
	if level != hclog.NoLevel {
		env = append(env, handshake.EnvLogLevel+"="+level.String())
	}
	return env
}
