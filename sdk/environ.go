package sdk

import (
	"os"
	"strings"

	"github.com/hashicorp/go-plugin"

	"github.com/rgap-project/rgap/internal/handshake"
)

// protocolEnv names the variables the host sets only to start and talk to
// the plugin process: go-plugin's handshake and transport settings and
// rgap's own plugin variables. They mean nothing to another program, and
// some (the client certificate, the socket directory) are the plugin's
// business alone.
var protocolEnv = map[string]bool{
	handshake.Handshake.MagicCookieKey: true,
	"PLUGIN_PROTOCOL_VERSIONS":         true,
	"PLUGIN_MIN_PORT":                  true,
	"PLUGIN_MAX_PORT":                  true,
	"PLUGIN_CLIENT_CERT":               true,
	"PLUGIN_MULTIPLEX_GRPC":            true,
	"PLUGIN_TEST_SKIP_HOST_ENV":        true,
	plugin.EnvUnixSocketDir:            true,
	plugin.EnvUnixSocketGroup:          true,
	handshake.EnvParentPID:             true,
	handshake.EnvLogLevel:              true,
	handshake.EnvHostGOMAXPROCS:        true,
}

// ProgramEnv returns the environment to give a program the plugin runs (in
// the form of os.Environ): the plugin's own environment — what the host
// passes on from the listener's — without the variables of the plugin
// protocol (the go-plugin handshake and transport variables such as
// RGAP_PLUGIN_COOKIE, PLUGIN_CLIENT_CERT and PLUGIN_UNIX_SOCKET_DIR, and
// rgap's RGAP_PLUGIN_* variables). GOMAXPROCS is left out too when it is
// the host's default for plugins rather than the operator's setting.
func ProgramEnv() []string { return programEnv(os.Environ()) }

func programEnv(environ []string) []string {
	hostProcs := false
	for _, kv := range environ {
		if strings.HasPrefix(kv, handshake.EnvHostGOMAXPROCS+"=") {
			hostProcs = true
		}
	}
	env := make([]string, 0, len(environ))
	for _, kv := range environ {
		name, _, _ := strings.Cut(kv, "=")
		if protocolEnv[name] || (hostProcs && name == "GOMAXPROCS") {
			continue
		}
		env = append(env, kv)
	}
	return env
}
