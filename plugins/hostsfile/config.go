package hostsfile

import (
	"errors"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// spec is the output's configuration exactly as written in the listener's
// configuration file. Pointers tell "absent" from a zero value where zero is
// legal (group 0 is a valid group id).
type spec struct {
	// Interval is the period of the rewrite check. Required, > 0.
	Interval time.Duration `yaml:"interval"`
	// Filename is the hosts file to maintain. Required. Relative paths
	// resolve against the working directory the listener was started in.
	Filename string `yaml:"filename"`
	// Mappings lists which group's addresses are written under which name.
	// Required, at least one.
	Mappings []mappingSpec `yaml:"mappings"`
	// PrependLines are written verbatim before the generated lines
	// (default: none).
	PrependLines []string `yaml:"prepend_lines"`
	// AppendLines are written verbatim after the generated lines (default:
	// none).
	AppendLines []string `yaml:"append_lines"`
}

// mappingSpec is one entry of spec.Mappings.
type mappingSpec struct {
	// Group is the redundancy group whose members are written. Required.
	Group *uint64 `yaml:"group"`
	// Hostname is the name written after each address. Required.
	Hostname string `yaml:"hostname"`
	// FallbackAddresses are written instead of the members while the group
	// has none (default: none).
	FallbackAddresses []netip.Addr `yaml:"fallback_addresses"`
}

// settings is a validated spec, ready to run.
type settings struct {
	interval time.Duration
	filename string
	mappings []mapping
	prepend  []string
	append   []string
}

// mapping is a validated mappingSpec.
type mapping struct {
	group    uint64
	hostname string
	fallback []netip.Addr
}

// groups returns the distinct groups the mappings refer to, in order of first
// appearance.
func (s *settings) groups() []uint64 {
	ids := make([]uint64, 0, len(s.mappings))
	for _, m := range s.mappings {
		dup := false
		for _, id := range ids {
			if id == m.group {
				dup = true
				break
			}
		}
		if !dup {
			ids = append(ids, m.group)
		}
	}
	return ids
}

// validate checks a decoded spec and reports every problem, each naming its
// key path (e.g. "mappings[1].hostname"). The groups' existence is checked
// by Config.Subscribe, so groups (the listener's) is not needed.
func (sp *spec) validate(_ []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*settings, error) {
	var errs []error
	s := &settings{interval: sp.Interval, filename: sp.Filename}
	if sp.Interval <= 0 {
		errs = append(errs, errorf("interval", "required, a duration greater than zero such as 5s (got %v)", sp.Interval))
	}
	if sp.Filename == "" {
		errs = append(errs, errorf("filename", "required, the path of the hosts file to write"))
	} else if strings.ContainsRune(sp.Filename, 0) {
		errs = append(errs, errorf("filename", "%q contains a NUL byte", sp.Filename))
	}
	if len(sp.Mappings) == 0 {
		errs = append(errs, errorf("mappings", "required, at least one {group, hostname} mapping"))
	}
	for i, ms := range sp.Mappings {
		m, merrs := ms.validate("mappings["+strconv.Itoa(i)+"]", errorf)
		errs = append(errs, merrs...)
		if len(merrs) == 0 {
			s.mappings = append(s.mappings, m)
		}
	}
	s.prepend = sp.PrependLines
	s.append = sp.AppendLines
	errs = append(errs, checkLines("prepend_lines", sp.PrependLines, errorf)...)
	errs = append(errs, checkLines("append_lines", sp.AppendLines, errorf)...)
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	return s, nil
}

// validate checks one mapping; every error names its key below prefix.
func (ms *mappingSpec) validate(prefix string, errorf sdk.ErrorfFunc) (mapping, []error) {
	var errs []error
	var m mapping
	if ms.Group == nil {
		errs = append(errs, errorf(prefix+".group", "required, the id of the group to write"))
	} else {
		m.group = *ms.Group
	}
	if err := checkHostname(ms.Hostname); err != nil {
		errs = append(errs, errorf(prefix+".hostname", "%q: %v", ms.Hostname, err))
	}
	m.hostname = ms.Hostname
	for j, a := range ms.FallbackAddresses {
		if a.Zone() != "" {
			errs = append(errs, errorf(prefix+".fallback_addresses["+strconv.Itoa(j)+"]",
				"%s: IPv6 zones are not supported in a hosts file", a))
			continue
		}
		m.fallback = append(m.fallback, a.Unmap())
	}
	return m, errs
}

// checkLines rejects extra lines that would break the one-entry-per-line
// structure of the file.
func checkLines(key string, lines []string, errorf sdk.ErrorfFunc) []error {
	var errs []error
	for i, l := range lines {
		if strings.ContainsAny(l, "\n\r\x00") {
			errs = append(errs, errorf(key+"["+strconv.Itoa(i)+"]",
				"%q must be a single line (no newline, carriage return or NUL)", l))
		}
	}
	return errs
}

// checkHostname accepts names made of RFC 1123 labels: letters, digits and
// inner hyphens, 1 to 63 characters each, 253 in total, without a trailing
// dot. Underscores are accepted inside labels because real hosts files carry
// them (service names, container names). Anything that parses as an IP
// address is refused: the resolver would never look it up by name.
func checkHostname(h string) error {
	if h == "" {
		return errors.New("required")
	}
	if len(h) > 253 {
		return errors.New("longer than 253 characters")
	}
	if _, err := netip.ParseAddr(h); err == nil {
		return errors.New("is an IP address, not a hostname")
	}
	for label := range strings.SplitSeq(h, ".") {
		if label == "" {
			return errors.New("empty label (leading, trailing or doubled dot)")
		}
		if len(label) > 63 {
			return errors.New("label " + strconv.Quote(label) + " is longer than 63 characters")
		}
		if label[0] == '-' || label[len(label)-1] == '-' {
			return errors.New("label " + strconv.Quote(label) + " starts or ends with a hyphen")
		}
		for i := 0; i < len(label); i++ {
			c := label[i]
			switch {
			case 'a' <= c && c <= 'z', 'A' <= c && c <= 'Z', '0' <= c && c <= '9', c == '-', c == '_':
			default:
				return errors.New("label " + strconv.Quote(label) + " contains " + strconv.QuoteRune(rune(c)) +
					": only letters, digits, '-' and '_' are allowed")
			}
		}
	}
	return nil
}
