package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"sync"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// validateParallel bounds how many plugins ValidateAll starts at once.
const validateParallel = 4

// ValidateAll checks every output before anything runs: it starts the
// output's plugin, checks GetInfo (our protocol version must be listed),
// calls ValidateConfig with the spec and the configured groups, and stops
// the plugin. It returns nil when every output is valid, otherwise every
// problem joined (errors.Join), ordered by output index, each an
// *OutputError naming the output's index, kind, configuration file and line,
// and the plugin's diagnostics with their lines.
//
// ValidateAll does not call Configure, which may have side effects; the
// subscription check (ErrUnknownGroup) happens at each Configure in Run.
// Plugins built with the SDK report such a subscription from
// ValidateConfig already.
func (h *Host) ValidateAll(ctx context.Context, outputs []Output, groups []GroupInfo) error {
	errs := make([]error, len(outputs))
	sem := make(chan struct{}, validateParallel)
	var wg sync.WaitGroup
	for i := range outputs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			if err := h.validate(ctx, &outputs[i], groups); err != nil {
				errs[i] = outputErr(&outputs[i], err)
			}
		})
	}
	wg.Wait()
	return errors.Join(errs...)
}

func (h *Host) validate(ctx context.Context, o *Output, groups []GroupInfo) error {
	tgt, err := h.resolve(o.Kind, o.SHA256)
	if err != nil {
		return err
	}
	log := h.outputLog(o)
	in, err := h.launch(ctx, tgt, log)
	if err != nil {
		return err
	}
	defer in.shutdown(true)
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	resp, err := in.rpc.ValidateConfig(cctx, &outputv1.ValidateConfigRequest{Spec: specOf(o), Groups: groupsOf(groups)})
	if err != nil {
		return fmt.Errorf("ValidateConfig: %w", err)
	}
	if d := resp.GetDiagnostics(); len(d) > 0 {
		e := outputErr(o, ErrInvalidSpec)
		e.Diagnostics = diagsOf(d)
		return e
	}
	return nil
}
