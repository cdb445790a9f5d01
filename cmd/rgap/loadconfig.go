package main

import (
	"fmt"

	"github.com/rgap-project/rgap/internal/config"
)

// loadConfig loads the file named by -c for `rgap listener` and `rgap
// check`, which take no other arguments, with --http-listen applied. Every
// error is a usage error (exit status 2).
func loadConfig(args []string, path, httpListen string) (*config.Config, error) {
	if len(args) > 0 {
		return nil, usagef("unexpected arguments %q", args)
	}
	if path == "" {
		return nil, usagef("--config is required")
	}
	cfg, err := config.Load(path)
	if err != nil {
		return nil, usageError{err}
	}
	if err := applyHTTPListen(cfg, httpListen); err != nil {
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
