package main

import (
	"context"
	"fmt"
	"strings"
	"time"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
)

// checkTimeout bounds a whole `rgap check`: every plugin is started once to
// validate its spec, in parallel, each within the host's call timeout.
const checkTimeout = time.Minute

func init() {
	var flags configFlags
	register(&command{
		name:     "check",
		summary:  "Check a listener configuration without running it.",
		synopsis: "-c FILE [--plugins-dir DIR] [--http-listen HOST:PORT]",
		details: `Loads the configuration as the listener would, has every output's plugin
validate its spec, checks that each out-of-tree plugin exists, is safe to run
and matches its sha256 pin, and that no two sockets (listen entries and the
addresses outputs bind) clash. Opens no socket and runs nothing beyond the
plugins' validation. Exit status 0 with a one-line summary when the file is
valid; 2 with every fault found, each naming the file, line and key, or the
output's index and kind. Use it before deploying a file or reloading the
listener (the systemd unit runs it before every start and reload).`,
		flags: func(fs *flagSet) {
			flags.register(fs, "as for the listener: check this metrics address instead of http_listen")
		},
		run: func(env *cmdEnv, args []string) error {
			cfg, err := flags.load(args)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			if err := listener.Check(ctx, cfg, listenerOptions(env, flags.pluginsDir)); err != nil {
				return usageError{err}
			}
			for _, w := range cfg.Warnings {
				env.log.Warn(w)
			}
			_, err = fmt.Fprintln(env.stdout, checkSummary(cfg))
			return err
		},
	})
}

// checkSummary is the line `rgap check` prints for a valid file.
func checkSummary(cfg *config.Config) string {
	kinds := make([]string, 0, len(cfg.Outputs))
	for _, o := range cfg.Outputs {
		kinds = append(kinds, o.Kind)
	}
	outs := "no outputs"
	if len(kinds) > 0 {
		outs = fmt.Sprintf("%s (%s)", plural(len(kinds), "output"), strings.Join(kinds, ", "))
	}
	return fmt.Sprintf("%s: ok: %s, %s, %s", cfg.Path,
		plural(len(cfg.Listen), "listen entry"), plural(len(cfg.Groups), "group"), outs)
}

func plural(n int, what string) string {
	if n == 1 {
		return "1 " + what
	}
	if strings.HasSuffix(what, "entry") {
		return fmt.Sprintf("%d %sies", n, strings.TrimSuffix(what, "y"))
	}
	return fmt.Sprintf("%d %ss", n, what)
}
