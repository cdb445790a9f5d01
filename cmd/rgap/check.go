package main

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"time"

	"github.com/rgap-project/rgap/internal/bindcheck"
	"github.com/rgap-project/rgap/internal/config"
)

// checkTimeout bounds a whole `rgap check`: every plugin is started once to
// validate its spec, in parallel, each within the host's call timeout.
const checkTimeout = time.Minute

func init() {
	var cfgPath, dir, httpListen string
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
			cfgPath, dir, httpListen = "", "", ""
			fs.string(&cfgPath, flagSpec{short: "c", long: "config", arg: "FILE", help: "configuration file", env: "RGAP_CONFIG"})
			fs.string(&dir, flagSpec{long: "plugins-dir", arg: "DIR", help: "directory of out-of-tree rgap-plugin-KIND executables", env: "RGAP_PLUGINS_DIR"})
			fs.string(&httpListen, flagSpec{long: "http-listen", arg: "HOST:PORT", help: "as for the listener: check this metrics address instead of http_listen", env: "RGAP_HTTP_LISTEN"})
		},
		run: func(env *cmdEnv, args []string) error {
			cfg, err := loadConfig(args, cfgPath, httpListen)
			if err != nil {
				return err
			}
			ctx, cancel := context.WithTimeout(context.Background(), checkTimeout)
			defer cancel()
			if err := checkConfig(ctx, env, cfg, dir); err != nil {
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

// checkConfig does everything the listener does before it opens a socket:
// the plugins validate their specs (which also checks their files and pins)
// and the binds are checked for clashes. It reports every fault at once.
func checkConfig(ctx context.Context, env *cmdEnv, cfg *config.Config, flagDir string) error {
	binds := append(listenBinds(cfg.Listen), httpBinds(cfg)...)
	var errs []error
	if len(cfg.Outputs) > 0 {
		h, err := newHost(env, pluginsDir(flagDir, cfg))
		if err != nil {
			return err
		}
		outBinds, err := h.ValidateAll(ctx, hostOutputs(cfg), hostGroups(cfg))
		errs = append(errs, err)
		binds = append(binds, outBinds...)
	}
	errs = append(errs, bindcheck.Check(binds))
	return errors.Join(errs...)
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
