package main

import (
	"context"
	"os"
	"os/signal"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
	"github.com/rgap-project/rgap/internal/pluginhost"
	"github.com/rgap-project/rgap/internal/sdnotify"
)

func init() {
	var cfgPath, pluginsDir, httpListen string
	register(&command{
		name:     "listener",
		summary:  "Receive announcements and feed the live groups to the outputs.",
		synopsis: "-c FILE [--plugins-dir DIR] [--http-listen HOST:PORT]",
		details: `The configuration file is YAML; see README.md for every key. Every output's
spec is checked by its plugin before anything starts. SIGINT or SIGTERM stop
the outputs and exit with status 0; SIGHUP is logged and otherwise ignored
(reloading is not supported yet). Under systemd (NOTIFY_SOCKET set) it
sends READY=1 once every socket is open and every output's plugin runs,
WATCHDOG=1 while it makes progress (WATCHDOG_USEC set) and STOPPING=1 when
a stop begins. Exit status 2: a bad command line or
configuration, including an output spec its plugin rejects; 1: a failure
while starting or running.`,
		flags: func(fs *flagSet) {
			cfgPath, pluginsDir, httpListen = "", "", ""
			fs.string(&cfgPath, flagSpec{short: "c", long: "config", arg: "FILE", help: "configuration file", env: "RGAP_CONFIG"})
			fs.string(&pluginsDir, flagSpec{long: "plugins-dir", arg: "DIR", help: "directory of out-of-tree rgap-plugin-KIND executables", env: "RGAP_PLUGINS_DIR"})
			fs.string(&httpListen, flagSpec{long: "http-listen", arg: "HOST:PORT", help: "serve /metrics, /healthz and /readyz here (overrides http_listen)", env: "RGAP_HTTP_LISTEN"})
		},
		run: func(env *cmdEnv, args []string) error {
			// From the start: SIGHUP must not kill a listener that is still
			// checking its outputs either.
			defer handleHangupAndPipe(env.log)()
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
			if err := applyHTTPListen(cfg, httpListen); err != nil {
				return err
			}
			procs := listenerProcs(len(cfg.Listen))
			env.log.Debug("scheduler", "gomaxprocs", procs, "sockets", len(cfg.Listen))
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Under systemd (NOTIFY_SOCKET set): READY=1 once every socket
			// is open and every output runs, WATCHDOG=1 while the listener
			// makes progress, STOPPING=1 as soon as a stop begins (output
			// stops may take seconds).
			notify := sdnotify.New(env.log)
			context.AfterFunc(ctx, notify.Stopping)
			outputs, err := newOutputs(env, cfg, pluginsDir)
			if err != nil {
				return err
			}
			lopts := listener.Options{
				Logger: env.log, Outputs: outputs,
				Started:  notify.Ready,
				Watchdog: notify.Watchdog,
			}
			if po, ok := outputs.(*pluginOutputs); ok {
				lopts.OutputStats = po.outputStats
			}
			err = listener.Run(ctx, cfg, lopts)
			if pluginhost.IsConfigError(err) {
				// An output spec a plugin rejected is as much a mistake
				// in the file as a key the decoder rejected.
				return usageError{err}
			}
			return err
		},
	})
}

// handleHangupAndPipe keeps two signals from killing the listener until
// the returned function is called. SIGHUP (what an operator or a service
// manager sends to reload) is logged: reloading is not supported yet.
// SIGPIPE comes when the reader of the listener's standard output or error
// (a log pipe) has gone; the write then fails and the listener keeps
// running. The signals are caught rather than ignored, so that the plugins
// and the programs they run start with the default dispositions.
func handleHangupAndPipe(log hclog.Logger) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGPIPE)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case s := <-sigs:
				if s == syscall.SIGHUP {
					log.Warn("SIGHUP received: reloading the configuration is not supported yet; restart the listener to apply a changed configuration")
				}
			case <-done:
				return
			}
		}
	}()
	return func() {
		signal.Stop(sigs)
		close(done)
		<-exited
	}
}
