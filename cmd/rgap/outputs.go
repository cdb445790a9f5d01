package main

import (
	"errors"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
)

// newOutputs builds the output host for cfg; nil when no output is configured.
func newOutputs(env *cmdEnv, cfg *config.Config, pluginsDir string) (listener.Outputs, error) {
	if len(cfg.Outputs) == 0 {
		return nil, nil
	}
	return nil, errors.New("outputs are not wired yet")
}
