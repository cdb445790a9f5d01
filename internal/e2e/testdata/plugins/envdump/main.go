// Command envdump is an output plugin for the end-to-end tests of package
// e2e. It logs everything the listener handed it (its environment, its
// arguments, its spec and the group information), so that a test can check
// that no pre-shared key or other secret of the listener reaches a plugin.
package main

import (
	"context"
	"fmt"
	"os"
	"strings"

	"github.com/rgap-project/rgap/sdk"
)

// spec is whatever the test writes into the output's spec.
type spec struct {
	Note string `yaml:"note"`
}

type output struct {
	spec   spec
	groups []sdk.GroupInfo
}

func newOutput(cfg *sdk.Config) (sdk.Output, error) {
	var s spec
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	return &output{spec: s, groups: cfg.Groups()}, nil
}

func (o *output) Run(ctx context.Context, env *sdk.Env) error {
	environ, _ := os.ReadFile("/proc/self/environ")
	env.Log.Info("envdump environment",
		"environ", strings.Join(os.Environ(), " "),
		"proc_environ", strings.ReplaceAll(string(environ), "\x00", " "),
		"args", strings.Join(os.Args, " "))
	env.Log.Info("envdump spec", "spec", fmt.Sprintf("%+v", o.spec), "groups", fmt.Sprintf("%+v", o.groups))
	<-ctx.Done()
	return nil
}

func main() {
	sdk.Serve(sdk.Plugin{Name: "envdump", Version: "0.0.1", New: newOutput})
}
