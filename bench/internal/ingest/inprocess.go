package ingest

import (
	"context"
	"errors"
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
	log := hclog.New(&hclog.LoggerOptions{Name: "rgap", Level: hclog.Info, Output: logOut, JSONFormat: true})
	if profile == "" {
		return listener.Run(ctx, cfg, listener.Options{Logger: log})
	}
	f, err := os.Create(profile)
	if err != nil {
		return fmt.Errorf("CPU profile: %w", err)
	}
	if err := pprof.StartCPUProfile(f); err != nil {
		_ = f.Close()
		return fmt.Errorf("CPU profile %s: %w", profile, err)
	}
	err = listener.Run(ctx, cfg, listener.Options{Logger: log})
	pprof.StopCPUProfile()
	if cerr := f.Close(); cerr != nil {
		return errors.Join(err, fmt.Errorf("CPU profile %s: %w", profile, cerr))
	}
	return err
}
