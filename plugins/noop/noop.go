// Package noop is the output that does nothing. It exists so that a
// listener can run with no real output (to check announcements and
// configuration, or to keep a slot in the outputs list), and as the
// smallest plugin written against the SDK.
//
// It takes no settings: a spec that is absent, empty or null is accepted,
// and any key is an error (a key there is most likely meant for another
// output). It subscribes to no group, so the listener streams it nothing
// but heartbeats.
package noop

import (
	"context"

	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the noop output, served by `rgap` in plugin mode.
var Plugin = sdk.Plugin{Name: "noop", Version: "1.0.0", New: New}

// spec is the noop output's configuration: it has no key, so the decoder
// refuses any.
type spec struct{}

// New accepts an empty spec.
func New(cfg *sdk.Config) (sdk.Output, error) {
	var s spec
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	cfg.Subscribe()
	return output{}, nil
}

type output struct{}

// Run waits until the listener stops the plugin.
func (output) Run(ctx context.Context, _ *sdk.Env) error {
	<-ctx.Done()
	return nil
}
