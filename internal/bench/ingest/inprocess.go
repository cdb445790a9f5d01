package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"runtime/pprof"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/config"
	"github.com/rgap-project/rgap/internal/listener"
)

// runInProcessListener is -mode listener: the same listener.Run that
// `rgap listener` runs, for the same configuration, inside this program so
// that its CPU profile can be taken without adding a profiling flag to the
// product. It logs JSON at info level to logOut like `rgap listener
// --log-format json`, so the orchestrator reads it the same way. It runs no
// outputs: the bench configuration has none.
func runInProcessListener(ctx context.Context, cfgPath, profile string, logOut io.Writer) error {
	cfg, err := config.Load(cfgPath)
	if err != nil {
		return err
	}
	if len(cfg.Outputs) > 0 {
		return fmt.Errorf("%s: has %d outputs; the in-process listener runs none", cfgPath, len(cfg.Outputs))
	}
	if profile != "" {
		f, err := os.Create(profile)
		if err != nil {
			return fmt.Errorf("CPU profile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("CPU profile %s: %w", profile, err)
		}
		defer pprof.StopCPUProfile()
	}
	log := hclog.New(&hclog.LoggerOptions{Name: "rgap", Level: hclog.Info, Output: logOut, JSONFormat: true})
	return listener.Run(ctx, cfg, listener.Options{Logger: log})
}
