package pluginhost

import (
	"context"
	"errors"
	"fmt"
	"slices"
	"strconv"
	"sync"

	"github.com/rgap-project/rgap/internal/bindcheck"
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
// It also returns the addresses the valid outputs' plugins reported they
// will bind (so a caller can report clashes among those alongside the
// invalid outputs), in output order, each with Owner naming the
// output as an *OutputError does; the caller checks them for clashes with
// each other and with its own sockets (package bindcheck). A plugin that
// binds nothing or does not say contributes none.
//
// ValidateAll does not call Configure, which may have side effects; the
// subscription check (ErrUnknownGroup) happens at each Configure in Run.
// Plugins built with the SDK report such a subscription from
// ValidateConfig already.
func (h *Host) ValidateAll(ctx context.Context, outputs []Output, groups []GroupInfo) ([]bindcheck.Bind, error) {
	errs := make([]error, len(outputs))
	binds := make([][]bindcheck.Bind, len(outputs))
	sem := make(chan struct{}, validateParallel)
	var wg sync.WaitGroup
	for i := range outputs {
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			b, err := h.validate(ctx, &outputs[i], groups)
			if err != nil {
				errs[i] = outputErr(&outputs[i], err)
			}
			binds[i] = b
		})
	}
	wg.Wait()
	return slices.Concat(binds...), errors.Join(errs...)
}

func (h *Host) validate(ctx context.Context, o *Output, groups []GroupInfo) ([]bindcheck.Bind, error) {
	tgt, err := h.resolve(o.Kind, o.SHA256)
	if err != nil {
		return nil, err
	}
	log := h.outputLog(o)
	in, err := h.launch(ctx, tgt, log)
	if err != nil {
		return nil, err
	}
	defer in.shutdown(true)
	cctx, cancel := context.WithTimeout(ctx, h.opts.CallTimeout)
	defer cancel()
	resp, err := in.rpc.ValidateConfig(cctx, &outputv1.ValidateConfigRequest{Spec: specOf(o), Groups: groupsOf(groups)})
	if err != nil {
		return nil, fmt.Errorf("ValidateConfig: %w", err)
	}
	if d := resp.GetDiagnostics(); len(d) > 0 {
		e := outputErr(o, ErrInvalidSpec)
		e.Diagnostics = diagsOf(d)
		return nil, e
	}
	var binds []bindcheck.Bind
	for _, b := range resp.GetBinds() {
		binds = append(binds, bindcheck.Bind{Owner: outputName(o), Network: b.GetNetwork(), Address: b.GetAddress()})
	}
	return binds, nil
}

// outputName names an output the way an *OutputError does.
func outputName(o *Output) string {
	s := fmt.Sprintf("output %d (kind %q)", o.Index, o.Kind)
	if o.File != "" {
		s += " at " + o.File
		if o.Line > 0 {
			s += ":" + strconv.Itoa(o.Line)
		}
	}
	return s
}
