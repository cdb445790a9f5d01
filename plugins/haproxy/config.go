package haproxy

import (
	"errors"
	"net"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// Modes of a mapping.
const (
	modeSlots   = "slots"
	modeDynamic = "dynamic"
)

// Defaults.
const (
	defaultInterval = 5 * time.Second
	defaultPrefix   = "rgap"
)

// spec is the output's configuration exactly as written in the listener's
// configuration file.
type spec struct {
	// Socket is HAProxy's Runtime API (`stats socket ... level admin`): a
	// unix socket path (anything holding a '/') or host:port. Required.
	Socket string `yaml:"socket"`
	// ReconcileInterval is how often the mapped backends are read back
	// and corrected (default 5s).
	ReconcileInterval time.Duration `yaml:"reconcile_interval"`
	// Mappings says which group fills which backend. Required, at least one.
	Mappings []mappingSpec `yaml:"mappings"`
}

// mappingSpec is one entry of spec.Mappings.
type mappingSpec struct {
	// Group is the redundancy group whose members become servers. Required.
	Group *uint64 `yaml:"group"`
	// Backend is the HAProxy backend to fill. Required.
	Backend string `yaml:"backend"`
	// Port is the server port of members that announce none (protocol
	// v1). Optional in slots mode (the template's port is kept), required
	// in dynamic mode.
	Port uint16 `yaml:"port"`
	// Mode is "slots" (default) or "dynamic".
	Mode string `yaml:"mode"`
	// Prefix names the servers the output owns (default "rgap"): the
	// server-template's prefix in slots mode, the start of the names it
	// creates in dynamic mode.
	Prefix string `yaml:"prefix"`
	// Check adds `check` to servers created in dynamic mode and enables
	// their health checks (default false).
	Check bool `yaml:"check"`
}

// settings is a validated spec, ready to run.
type settings struct {
	network, address string // for net.Dial
	interval         time.Duration
	mappings         []mapping
}

// mapping is a validated mappingSpec.
type mapping struct {
	group   uint64
	backend string
	port    uint16
	dynamic bool
	prefix  string
	check   bool
}

// groups returns the distinct groups the mappings refer to.
func (s *settings) groups() []uint64 {
	var ids []uint64
	for _, m := range s.mappings {
		if !slices.Contains(ids, m.group) {
			ids = append(ids, m.group)
		}
	}
	return ids
}

// validate checks a decoded spec against the listener's groups and reports
// every problem, each naming its key path.
func (sp *spec) validate(groups []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*settings, error) {
	var errs []error
	s := &settings{interval: sp.ReconcileInterval}
	if s.interval == 0 {
		s.interval = defaultInterval
	} else if s.interval < 0 {
		errs = append(errs, errorf("reconcile_interval", "must be greater than zero (got %v)", s.interval))
	}
	switch {
	case sp.Socket == "":
		errs = append(errs, errorf("socket", "required: the path of HAProxy's admin stats socket, or its host:port"))
	case strings.ContainsAny(sp.Socket, "\x00\n"):
		errs = append(errs, errorf("socket", "contains a NUL or newline"))
	case strings.Contains(sp.Socket, "/"):
		s.network, s.address = "unix", sp.Socket
	default:
		_, port, err := net.SplitHostPort(sp.Socket)
		if err == nil {
			_, err = strconv.ParseUint(port, 10, 16)
		}
		if err != nil {
			errs = append(errs, errorf("socket", "%q is neither a unix socket path (with a '/') nor host:port", sp.Socket))
		}
		s.network, s.address = "tcp", sp.Socket
	}
	if len(sp.Mappings) == 0 {
		errs = append(errs, errorf("mappings", "required, at least one {group, backend} mapping"))
	}
	type owner struct{ backend, prefix string }
	seen := map[owner]int{}
	for i, ms := range sp.Mappings {
		key := "mappings[" + strconv.Itoa(i) + "]"
		m, merrs := ms.validate(key, groups, errorf)
		errs = append(errs, merrs...)
		if len(merrs) != 0 {
			continue
		}
		o := owner{m.backend, m.prefix}
		if j, dup := seen[o]; dup {
			errs = append(errs, errorf(key+".backend", "backend %q with prefix %q is already filled by mappings[%d]: two mappings would fight over the same servers", m.backend, m.prefix, j))
			continue
		}
		seen[o] = i
		s.mappings = append(s.mappings, m)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// validate checks one mapping; every error names its key below prefix.
func (ms *mappingSpec) validate(key string, groups []sdk.GroupInfo, errorf sdk.ErrorfFunc) (mapping, []error) {
	var errs []error
	m := mapping{backend: ms.Backend, port: ms.Port, prefix: ms.Prefix, check: ms.Check}
	if ms.Group == nil {
		errs = append(errs, errorf(key+".group", "required, the id of the group whose members become servers"))
	} else {
		m.group = *ms.Group
		if !slices.ContainsFunc(groups, func(g sdk.GroupInfo) bool { return g.ID == m.group }) {
			errs = append(errs, errorf(key+".group", "group %d is not configured in the listener", m.group))
		}
	}
	if err := checkName(ms.Backend); err != nil {
		errs = append(errs, errorf(key+".backend", "%q: %v", ms.Backend, err))
	}
	if m.prefix == "" {
		m.prefix = defaultPrefix
	} else if err := checkName(m.prefix); err != nil {
		errs = append(errs, errorf(key+".prefix", "%q: %v", m.prefix, err))
	}
	switch ms.Mode {
	case "", modeSlots:
		if ms.Check {
			errs = append(errs, errorf(key+".check", "only for mode dynamic: in slots mode the server-template's own `check` applies"))
		}
	case modeDynamic:
		m.dynamic = true
		if ms.Port == 0 {
			errs = append(errs, errorf(key+".port", "required in mode dynamic (the port of members that announce none), 1-65535"))
		}
	default:
		errs = append(errs, errorf(key+".mode", "%q: want %s or %s", ms.Mode, modeSlots, modeDynamic))
	}
	return m, errs
}

// checkName accepts what HAProxy accepts in a proxy or server name:
// letters, digits, '-', '_', '.' and ':'.
func checkName(n string) error {
	if n == "" {
		return errors.New("required")
	}
	for i := 0; i < len(n); i++ {
		c := n[i]
		switch {
		case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_', c == '.', c == ':':
		default:
			return errors.New("contains " + strconv.QuoteRune(rune(c)) + ": HAProxy names hold only letters, digits, '-', '_', '.' and ':'")
		}
	}
	return nil
}
