package pluginhost

import (
	"context"
	"fmt"
	"slices"
	"sort"
	"sync"

	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
)

// PluginInfo describes one available output kind, for `rgap plugins`.
type PluginInfo struct {
	Kind string
	// Path is the executable: Options.Self for built-ins.
	Path    string
	Builtin bool
	// Shadowed: an out-of-tree file whose kind is also built in; the
	// built-in wins and the file is never run.
	Shadowed bool
	// Version, Protocols and Capabilities come from the plugin's GetInfo.
	Version      string
	Protocols    []uint32
	Capabilities []string
	// Err says why the plugin was refused or failed to start (nil if it
	// answered GetInfo).
	Err error
}

// Discover lists the built-in kinds and the out-of-tree plugins in the
// plugins directory, starting each one to ask for its version. Built-ins
// come first; each part is sorted by kind. A file that is refused (see
// package pluginfile) or does not start has Err set. An unreadable plugins
// directory yields one entry with an empty Kind and Err set.
//
// outputs are the configured outputs, if any: a kind that an output pins
// (Output.SHA256) is run only if its file matches every pin of that kind,
// checked before anything is executed, as the listener would; otherwise
// Err wraps ErrPinMismatch (or ErrPinBuiltin) and names the output.
func (h *Host) Discover(ctx context.Context, outputs ...Output) []PluginInfo {
	var infos []PluginInfo
	builtins := make([]string, 0, len(h.opts.Builtins))
	for k := range h.opts.Builtins {
		builtins = append(builtins, k)
	}
	sort.Strings(builtins)
	for _, k := range builtins {
		infos = append(infos, PluginInfo{Kind: k, Path: h.opts.Self, Builtin: true})
	}
	entries, err := pluginfile.List(h.opts.PluginsDir)
	if err != nil {
		infos = append(infos, PluginInfo{Path: h.opts.PluginsDir, Err: err})
	}
	for _, e := range entries {
		infos = append(infos, PluginInfo{Kind: e.Kind, Path: e.Path, Shadowed: h.opts.Builtins[e.Kind]})
	}

	sem := make(chan struct{}, validateParallel)
	var wg sync.WaitGroup
	for i := range infos {
		pi := &infos[i]
		if pi.Kind == "" || pi.Shadowed {
			continue
		}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			h.probe(ctx, pi, outputs)
		})
	}
	wg.Wait()
	return infos
}

// probe starts the plugin described by pi and records its GetInfo. The
// file is checked against the pins of outputs of its kind first.
func (h *Host) probe(ctx context.Context, pi *PluginInfo, outputs []Output) {
	tgt, err := h.resolve(pi.Kind, "")
	for i := range outputs {
		o := &outputs[i]
		if err != nil || o.Kind != pi.Kind || o.SHA256 == "" {
			continue
		}
		if tgt, err = h.resolve(o.Kind, o.SHA256); err == nil {
			_, err = pluginfile.Verify(tgt.path, tgt.pin)
		}
		if err != nil {
			err = outputErr(o, err)
		}
	}
	if err != nil {
		pi.Err = err
		return
	}
	log := h.opts.Logger.Named("discover").With("kind", pi.Kind)
	in, err := h.launch(ctx, tgt, log)
	if err != nil {
		pi.Err = err
		return
	}
	defer in.shutdown(true)
	if exe := in.proc.Exe(); exe != "" && !pi.Builtin {
		pi.Path = exe
	}
	pi.Version = in.info.GetPluginVersion()
	pi.Protocols = slices.Clone(in.info.GetProtocolVersions())
	for _, c := range in.info.GetCapabilities() {
		pi.Capabilities = append(pi.Capabilities, c.String())
	}
}

// String formats pi as one line of `rgap plugins` output.
func (pi PluginInfo) String() string {
	where := "external"
	if pi.Builtin {
		where = "built-in"
	}
	switch {
	case pi.Shadowed:
		return fmt.Sprintf("%s\t%s\tshadowed by the built-in %q; never run", pi.Kind, pi.Path, pi.Kind)
	case pi.Err != nil:
		return fmt.Sprintf("%s\t%s\t%s\tunavailable: %v", pi.Kind, where, pi.Path, pi.Err)
	}
	return fmt.Sprintf("%s\t%s\t%s\tversion %s, protocol %v", pi.Kind, where, pi.Path, pi.Version, pi.Protocols)
}
