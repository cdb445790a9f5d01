package main

import (
	"context"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

func init() {
	var cfgPath, dir string
	register(&command{
		name:     "plugins",
		summary:  "List the output plugins this listener can run, with their versions.",
		synopsis: "[-c FILE] [--plugins-dir DIR]",
		details: `Built-in kinds are served by this binary. Out-of-tree plugins are executables
named rgap-plugin-KIND in the plugins directory: --plugins-dir, else
RGAP_PLUGINS_DIR, else plugins_dir from the configuration given with -c, else
/usr/lib/rgap/plugins. Each plugin is started once to ask for its version.
Files that would be refused (writable by group or others, not executable, not
a regular file) are listed with the reason. With -c, a plugin whose file does
not match the sha256 pin of an output of its kind is refused as the listener
would refuse it ("sha256 mismatch"), without being run. Exit status 1 when
any was refused or failed to start.`,
		flags: func(fs *flagSet) {
			cfgPath, dir = "", ""
			fs.string(&cfgPath, flagSpec{short: "c", long: "config", arg: "FILE", help: "configuration file (for plugins_dir and the outputs' sha256 pins)", env: "RGAP_CONFIG"})
			fs.string(&dir, flagSpec{long: "plugins-dir", arg: "DIR", help: "directory of out-of-tree rgap-plugin-KIND executables", env: "RGAP_PLUGINS_DIR"})
		},
		run: func(env *cmdEnv, args []string) error {
			if len(args) > 0 {
				return usagef("unexpected arguments %q", args)
			}
			var cfg *config.Config
			if cfgPath != "" {
				var err error
				if cfg, err = config.Load(cfgPath); err != nil {
					return usageError{err}
				}
			}
			ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
			defer cancel()
			infos, err := listener.Discover(ctx, cfg, listenerOptions(env, dir))
			if err != nil {
				return err
			}
			return printPlugins(env.stdout, infos)
		},
	})
}

// printPlugins writes the table of `rgap plugins`; it fails when any
// plugin was refused or failed to start.
func printPlugins(w io.Writer, infos []pluginhost.PluginInfo) error {
	tw := tabwriter.NewWriter(w, 2, 8, 2, ' ', 0)
	_, _ = fmt.Fprintln(tw, "KIND\tSOURCE\tVERSION\tPROTOCOLS\tSTATUS") // a failed write shows at tw.Flush
	failed := 0
	for _, pi := range infos {
		source := pi.Path
		if pi.Builtin {
			source = "built-in"
		}
		status := "ok"
		switch {
		case pi.Shadowed:
			status = "ignored: a built-in kind has this name"
		case pi.Err != nil:
			status = "refused: " + pi.Err.Error()
			failed++
		}
		protos := make([]string, len(pi.Protocols))
		for i, p := range pi.Protocols {
			protos[i] = fmt.Sprint(p)
		}
		_, _ = fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", dash(pi.Kind), source, dash(pi.Version), dash(strings.Join(protos, ",")), status)
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	if failed > 0 {
		return fmt.Errorf("%d plugin(s) refused or failed to start", failed)
	}
	return nil
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
