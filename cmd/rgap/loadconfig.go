package main

import (
	"fmt"

	"github.com/rgap-project/rgap/internal/config"
)

// configFlags are the flags of `rgap listener` and `rgap check`: the
// configuration file, the directory of out-of-tree plugins and the
// --http-listen override.
type configFlags struct{ path, pluginsDir, httpListen string }

// register resets f and adds its flags to fs; httpHelp is the help of
// --http-listen, which the two commands use differently.
func (f *configFlags) register(fs *flagSet, httpHelp string) {
	*f = configFlags{}
	fs.string(&f.path, flagSpec{short: "c", long: "config", arg: "FILE", help: "configuration file", env: "RGAP_CONFIG"})
	fs.string(&f.pluginsDir, flagSpec{long: "plugins-dir", arg: "DIR", help: "directory of out-of-tree rgap-plugin-KIND executables", env: "RGAP_PLUGINS_DIR"})
	fs.string(&f.httpListen, flagSpec{long: "http-listen", arg: "HOST:PORT", help: httpHelp, env: "RGAP_HTTP_LISTEN"})
}

// load loads the file named by -c for `rgap listener` and `rgap check`,
// which take no other arguments, with --http-listen applied. Every error is
// a usage error (exit status 2).
func (f *configFlags) load(args []string) (*config.Config, error) {
	if len(args) > 0 {
		return nil, usagef("unexpected arguments %q", args)
	}
	if f.path == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := config.Load(f.path)
	if err != nil {
		return nil, usageError{err}
	}
	if err := applyHTTPListen(cfg, f.httpListen); err != nil {
		return nil, err
	}
	return cfg, nil
}

// applyHTTPListen lets the --http-listen flag override the http_listen key.
func applyHTTPListen(cfg *config.Config, flagValue string) error {
	if flagValue == "" {
		return nil
	}
	if err := config.CheckHTTPListen(flagValue); err != nil {
		return usageError{fmt.Errorf("--http-listen %q: %w", flagValue, err)}
	}
	cfg.HTTPListen = flagValue
	return nil
}
