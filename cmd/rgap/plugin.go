package main

import (
	"sort"

	commandoutput "github.com/rgap-project/rgap/plugins/command"
	"github.com/rgap-project/rgap/plugins/dns"
	"github.com/rgap-project/rgap/plugins/eventlog"
	"github.com/rgap-project/rgap/plugins/haproxy"
	"github.com/rgap-project/rgap/plugins/hostsfile"
	logoutput "github.com/rgap-project/rgap/plugins/log"
	"github.com/rgap-project/rgap/plugins/noop"
	"github.com/rgap-project/rgap/sdk"
)

// builtins are the output kinds compiled into this binary. The listener
// starts each as `rgap plugin KIND`, a separate process, exactly as it starts
// an out-of-tree plugin.
var builtins = map[string]sdk.Plugin{
	noop.Plugin.Name:          noop.Plugin,
	logoutput.Plugin.Name:     logoutput.Plugin,
	eventlog.Plugin.Name:      eventlog.Plugin,
	hostsfile.Plugin.Name:     hostsfile.Plugin,
	dns.Plugin.Name:           dns.Plugin,
	commandoutput.Plugin.Name: commandoutput.Plugin,
	haproxy.Plugin.Name:       haproxy.Plugin,
}

func builtinKinds() []string {
	kinds := make([]string, 0, len(builtins))
	for k := range builtins {
		kinds = append(kinds, k)
	}
	sort.Strings(kinds)
	return kinds
}

func init() {
	register(&command{
		name:     "plugin",
		summary:  "Serve a built-in output plugin (started by the listener, not by hand).",
		synopsis: "KIND",
		hidden:   true,
		run: func(env *cmdEnv, args []string) error {
			if len(args) != 1 {
				return usagef("want exactly one output kind, got %q", args)
			}
			p, ok := builtins[args[0]]
			if !ok {
				return usagef("no built-in output kind %q (built-in: %v)", args[0], builtinKinds())
			}
			sdk.Serve(p)
			return nil
		},
	})
}
