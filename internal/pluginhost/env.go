package pluginhost

import (
	"os"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/internal/pluginproto"
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

// pluginEnv builds a plugin's environment from the host's environment
// (environ, normally os.Environ()): the allowlist, the extra names, and the
// host's PID for the SDK's parent watch. go-plugin appends its own
// handshake variables after these.
func pluginEnv(environ []string, extra []string) []string {
	pass := func(name string) bool {
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
		if !ok || name == pluginproto.EnvParentPID {
			continue
		}
		if pass(name) {
			env = append(env, kv)
		}
	}
	return append(env, pluginproto.EnvParentPID+"="+strconv.Itoa(os.Getpid()))
}
