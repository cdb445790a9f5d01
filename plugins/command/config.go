package command

import (
	"errors"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// defaultWaitDelay is wait_delay when the key is absent.
const defaultWaitDelay = 100 * time.Millisecond

// spec is the output's configuration as written in the listener's
// configuration file. Pointers tell "absent" from an explicit zero.
type spec struct {
	// Group is the redundancy group whose addresses are piped. Required.
	Group *uint64 `yaml:"group"`
	// Command is the program and its arguments, run without a shell.
	Command []string `yaml:"command"`
	// Timeout limits one attempt; zero or absent means no limit.
	Timeout time.Duration `yaml:"timeout"`
	// Retries is the total number of attempts per change; 0, 1 or absent
	// mean a single attempt.
	Retries *int `yaml:"retries"`
	// WaitDelay bounds the wait for the output pipes after the process has
	// exited; absent means defaultWaitDelay, 0 waits for as long as it takes.
	WaitDelay *time.Duration `yaml:"wait_delay"`
	// Format is how each member is written on the program's standard
	// input: "address" (the default), "address_port" or "json".
	Format string `yaml:"format"`
}

// settings is a validated spec.
type settings struct {
	group     uint64
	argv      []string
	timeout   time.Duration
	attempts  int
	waitDelay time.Duration
	format    format
}

// validate checks a decoded spec and reports every problem, each naming its
// key. The group's existence is checked by Config.Subscribe, so groups (the
// listener's) is not needed.
func (sp *spec) validate(_ []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*settings, error) {
	var errs []error
	s := &settings{timeout: sp.Timeout, attempts: 1, waitDelay: defaultWaitDelay}
	if sp.Group == nil {
		errs = append(errs, errorf("group", "required, the id of the group whose addresses are piped"))
	} else {
		s.group = *sp.Group
	}
	switch {
	case len(sp.Command) == 0:
		errs = append(errs, errorf("command", "required, a list holding the program and its arguments"))
	case sp.Command[0] == "":
		errs = append(errs, errorf("command[0]", "the program must not be empty"))
	}
	for i, arg := range sp.Command {
		if strings.ContainsRune(arg, 0) {
			errs = append(errs, errorf("command["+strconv.Itoa(i)+"]", "%q contains a NUL byte", arg))
		}
	}
	s.argv = sp.Command
	if sp.Timeout < 0 {
		errs = append(errs, errorf("timeout", "%v must not be negative (0 means no limit)", sp.Timeout))
	}
	if sp.Retries != nil {
		switch r := *sp.Retries; {
		case r < 0:
			errs = append(errs, errorf("retries", "%d must not be negative", r))
		case r > 0:
			s.attempts = r
		}
	}
	if sp.WaitDelay != nil {
		if *sp.WaitDelay < 0 {
			errs = append(errs, errorf("wait_delay", "%v must not be negative (0 disables it)", *sp.WaitDelay))
		}
		s.waitDelay = *sp.WaitDelay
	}
	switch f := format(sp.Format); f {
	case "":
		s.format = formatAddress
	case formatAddress, formatAddressPort, formatJSON:
		s.format = f
	default:
		errs = append(errs, errorf("format", "%q is not one of %s, %s, %s", sp.Format, formatAddress, formatAddressPort, formatJSON))
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}
