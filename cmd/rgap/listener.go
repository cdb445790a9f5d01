package main

import (
	"context"
	"errors"
	"os"
	"os/signal"
	"sync/atomic"
	"syscall"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
	"github.com/rgap-project/rgap/internal/pluginhost"
	"github.com/rgap-project/rgap/internal/sdnotify"
)

func init() {
	var flags configFlags
	register(&command{
		name:     "listener",
		summary:  "Receive announcements and feed the live groups to the outputs.",
		synopsis: "-c FILE [--plugins-dir DIR] [--http-listen HOST:PORT]",
		details: `The configuration file is YAML; see README.md for every key. Every output's
spec is checked by its plugin before anything starts. SIGINT or SIGTERM stop
the outputs and exit with status 0. SIGHUP re-reads the file, checks it in
full (as rgap check does) and applies only what changed; a file with a fault
changes nothing and is reported. Under systemd (NOTIFY_SOCKET set) it
sends READY=1 once every socket is open and every output's plugin runs,
RELOADING=1 and READY=1 around a reload,
WATCHDOG=1 while it makes progress (WATCHDOG_USEC set) and STOPPING=1 when
a stop begins. Exit status 2: a bad command line or
configuration, including an output spec its plugin rejects; 1: a failure
while starting or running.`,
		flags: func(fs *flagSet) {
			flags.register(fs, "serve /metrics, /healthz and /readyz here (overrides http_listen)")
		},
		run: func(env *cmdEnv, args []string) error {
			// From the start: SIGHUP must not kill a listener that is still
			// checking its outputs either. Until the listener runs, a
			// SIGHUP finds no reloader and is logged.
			var reloader atomic.Pointer[func()]
			defer handleHangupAndPipe(env.log, &reloader)()
			cfg, err := flags.load(args)
			if err != nil {
				return err
			}
			procs := listenerProcs(len(cfg.Listen))
			env.log.Debug("runtime", "gomaxprocs", procs, "sockets", len(cfg.Listen), "gogc", listenerGC())
			ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
			defer stop()
			// Under systemd (NOTIFY_SOCKET set): READY=1 once every socket
			// is open and every output runs, WATCHDOG=1 while the listener
			// makes progress, STOPPING=1 as soon as a stop begins (output
			// stops may take seconds), RELOADING=1 while a SIGHUP is
			// applied.
			notify := sdnotify.New(env.log)
			context.AfterFunc(ctx, notify.Stopping)
			opts := listenerOptions(env, flags.pluginsDir)
			opts.Started, opts.Watchdog = notify.Ready, notify.Watchdog
			l, err := listener.New(cfg, opts)
			if err != nil {
				return err
			}
			rl := &reloading{env: env, path: flags.path, httpListen: flags.httpListen, listener: l, notify: notify}
			hup := func() { rl.reload(ctx) }
			reloader.Store(&hup)
			err = l.Run(ctx)
			reloader.Store(nil)
			return configFault(err)
		},
	})
}

// listenerOptions are the listener's options from the command line: what
// `rgap listener`, `rgap check` and `rgap plugins` share.
func listenerOptions(env *cmdEnv, pluginsDir string) listener.Options {
	return listener.Options{Logger: env.log, Builtins: builtinKinds(), PluginsDir: pluginsDir}
}

// configFault makes a usage error (exit status 2) of an error that is a
// mistake in the configuration file, as much as a key the decoder rejects:
// an output spec a plugin rejected, a plugin file refused, or two sockets
// on one address.
func configFault(err error) error {
	if pluginhost.IsConfigError(err) || errors.Is(err, bindcheck.ErrClash) {
		return usageError{err}
	}
	return err
}

// reloading re-reads the configuration on SIGHUP and hands it to the
// running listener, which checks it in full as `rgap check` does. A file
// with any fault changes nothing: the faults are logged, the metrics say
// the last reload failed, and systemd is told so in the unit's status.
type reloading struct {
	env        *cmdEnv
	path       string
	httpListen string
	listener   *listener.Listener
	notify     *sdnotify.Notifier
}

func (r *reloading) reload(ctx context.Context) {
	log := r.env.log
	log.Info("SIGHUP: reloading the configuration", "file", r.path)
	r.notify.Reloading()
	cfg, err := config.Load(r.path)
	if err == nil {
		err = applyHTTPListen(cfg, r.httpListen)
	}
	if err = r.listener.Reload(ctx, cfg, err); err != nil {
		log.Error("reload failed; still running the previous configuration", "file", r.path, "error", err)
		r.notify.ReloadFailed(err.Error())
		return
	}
	for _, w := range cfg.Warnings {
		log.Warn(w)
	}
	log.Info("configuration reloaded", "file", r.path, "summary", checkSummary(cfg))
	r.notify.Ready("configuration reloaded")
}

// handleHangupAndPipe keeps two signals from killing the listener until
// the returned function is called. SIGHUP (what an operator or a service
// manager sends to reload) runs the function in reloader, one reload at a
// time; before the listener runs there is none, and the signal is logged.
// SIGPIPE comes when the reader of the listener's standard output or error
// (a log pipe) has gone; the write then fails and the listener keeps
// running. The signals are caught rather than ignored, so that the plugins
// and the programs they run start with the default dispositions.
func handleHangupAndPipe(log hclog.Logger, reloader *atomic.Pointer[func()]) (stop func()) {
	sigs := make(chan os.Signal, 4)
	signal.Notify(sigs, syscall.SIGHUP, syscall.SIGPIPE)
	done := make(chan struct{})
	exited := make(chan struct{})
	go func() {
		defer close(exited)
		for {
			select {
			case s := <-sigs:
				if s != syscall.SIGHUP {
					continue
				}
				if f := reloader.Load(); f != nil {
					(*f)()
				} else {
					log.Warn("SIGHUP received while the listener is starting or stopping: ignored; send it again once it runs")
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
