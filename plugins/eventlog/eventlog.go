// Package eventlog is the output that writes every membership change to the
// listener's log: an address joining a group (first announced) and leaving
// it (expired or left), with its port and weight when it announced them. Unlike the log output it says what changed and when, which
// is what an operator looks for after a failover.
//
// It handles events through sdk.EventHandler rather than an OnEvent
// registration in Run, so that no change is missed between the first
// snapshot and Run starting. The joins of the members already present when
// the plugin (re)starts are logged too: the first snapshot replaces an
// empty mirror.
package eventlog

import (
	"context"
	"errors"
	"fmt"
	"slices"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/sdk"
)

// Plugin is the eventlog output, served by `rgap` in plugin mode.
var Plugin = sdk.Plugin{Name: "eventlog", Version: "1.0.0", New: New}

// spec is the eventlog output's configuration.
type spec struct {
	// OnlyGroups lists the groups to log. Absent or null (the default):
	// every group.
	OnlyGroups []uint64 `yaml:"only_groups"`
}

// validate checks a decoded spec against the listener's groups and reports
// every entry of only_groups that is not one of them.
func (s *spec) validate(known []sdk.GroupInfo, errorf sdk.ErrorfFunc) error {
	var errs []error
	for i, id := range s.OnlyGroups {
		if !slices.ContainsFunc(known, func(g sdk.GroupInfo) bool { return g.ID == id }) {
			errs = append(errs, errorf(fmt.Sprintf("only_groups[%d]", i), "group %d is not configured in the listener", id))
		}
	}
	return errors.Join(errs...)
}

// New checks the spec and subscribes to the groups to log.
func New(cfg *sdk.Config) (sdk.Output, error) {
	var s spec
	if err := cfg.Decode(&s); err != nil {
		return nil, err
	}
	if err := s.validate(cfg.Groups(), cfg.Errorf); err != nil {
		return nil, err
	}
	if s.OnlyGroups != nil {
		cfg.Subscribe(s.OnlyGroups...)
	}
	return &output{log: cfg.Log()}, nil
}

type output struct {
	log hclog.Logger
}

// HandleEvent logs joins and leaves.
func (o *output) HandleEvent(e sdk.Event) {
	switch e.Kind {
	case sdk.EventJoin:
		o.log.Info("address joined", fields(e)...)
	case sdk.EventLeave:
		o.log.Info("address left", fields(e)...)
	}
}

// fields are the key/value pairs of an event's line: the group and the
// address, then the port and the weight when the member announced them
// (protocol v2), so that a v1 member's line is what it always was.
func fields(e sdk.Event) []any {
	kv := []any{"group", e.Group, "address", e.Member.Addr.String()}
	if e.Member.Port != 0 {
		kv = append(kv, "port", e.Member.Port)
	}
	if e.Member.Weight != 0 {
		kv = append(kv, "weight", e.Member.Weight)
	}
	return kv
}

// Run waits until the listener stops the plugin; HandleEvent does the work.
func (o *output) Run(ctx context.Context, _ *sdk.Env) error {
	<-ctx.Done()
	return nil
}
