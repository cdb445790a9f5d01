package main

import (
	"context"
	"os/signal"
	"syscall"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
)

func init() {
	var cfgPath, pluginsDir string
	register(&command{
		name:     "listener",
		summary:  "Receive announcements and feed the live groups to the outputs.",
		synopsis: "-c FILE [--plugins-dir DIR]",
		details: `The configuration file is YAML; see README.md for every key. Every output's
spec is checked by its plugin before anything starts. SIGINT or SIGTERM stop
the outputs and exit with status 0.`,
		flags: func(fs *flagSet) {
			cfgPath, pluginsDir = "", ""
			fs.string(&cfgPath, flagSpec{short: "c", long: "config", arg: "FILE", help: "configuration file", env: "RGAP_CONFIG"})
			fs.string(&pluginsDir, flagSpec{long: "plugins-dir", arg: "DIR", help: "directory of out-of-tree rgap-plugin-KIND executables", env: "RGAP_PLUGINS_DIR"})
		},
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			if cfgPath == "" {
				return usagef("--config is required")
			}
			cfg, err := config.Load(cfgPath)
			if err != nil {
				return usageError{err}
			}
			procs := listenerProcs(len(cfg.Listen))
			env.log.Debug("scheduler", "gomaxprocs", procs, "sockets", len(cfg.Listen))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			outputs, err := newOutputs(env, cfg, pluginsDir)
			if err != nil {
				return err
			}
			return listener.Run(ctx, cfg, listener.Options{Logger: env.log, Outputs: outputs})
		},
	})
}
