// Command rgap-plugin-hello is a complete out-of-tree rgap output plugin,
// kept in the SDK as the example to copy (see the sdk package doc). It
// greets the members of one group in the listener's log each time the
// group's membership changes, once the group is ready.
//
// Build it, and install it in the listener's plugins directory:
//
//	go build -o rgap-plugin-hello .
//	install -m 0755 rgap-plugin-hello /path/to/plugins/
//
// and configure an output of kind "hello":
//
//	outputs:
//	  - kind: hello
//	    spec:
//	      group: 1000
//	      greeting: Welcome
package main

import (
	"context"
	"errors"
	"slices"

	"github.com/rgap-project/rgap/sdk"
)

// spec is the output's configuration, decoded strictly from its `spec`.
type spec struct {
	// Group is the redundancy group to greet (required).
	Group uint64 `yaml:"group"`
	// Greeting is the word logged before each address (default "Hello").
	Greeting string `yaml:"greeting"`
}

// output is a configured hello output.
type output struct {
	spec
}

// New checks the spec; it has no side effects, because the listener also
// calls it just to validate a configuration.
func New(cfg *sdk.Config) (sdk.Output, error) {
	s := spec{Greeting: "Hello"}
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	if s.Group == 0 {
		return nil, cfg.Errorf("group", "required: the id of the group to greet")
	}
	if !slices.ContainsFunc(cfg.Groups(), func(g sdk.GroupInfo) bool { return g.ID == s.Group }) {
		return nil, cfg.Errorf("group", "group %d is not configured in the listener", s.Group)
	}
	cfg.Subscribe(s.Group)
	return &output{spec: s}, nil
}

// Run does the work until the listener stops the plugin.
func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	// Register for changes before the first look, so none is missed.
	changed := env.Groups.Changed(o.Group)
	if err := env.Groups.WaitReady(ctx, o.Group); err != nil {
		if errors.Is(err, context.Canceled) {
			return nil // stopped before the group became ready
		}
		return err
	}
	for {
		for _, m := range env.Groups.Members(o.Group) {
			env.Log.Info(o.Greeting, "group", o.Group, "address", m.Addr.String())
		}
		select {
		case <-ctx.Done():
			return nil
		case <-changed:
		}
	}
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "hello", Version: "0.1.0", New: New})
}
