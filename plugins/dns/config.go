package dns

import (
	"errors"
	"fmt"
	"maps"
	"net"
	"net/netip"
	"slices"
	"strconv"

	miekg "github.com/miekg/dns"
	"github.com/rgap-project/rgap/sdk"
)

// spec is the output's configuration as written in the listener's file.
// Every field is documented for operators in README.md.
type spec struct {
	// BindAddress is host:port for both the UDP and the TCP server.
	// Required.
	BindAddress string `yaml:"bind_address"`
	// Mappings maps a domain name to the group whose members answer it.
	// Required, at least one.
	Mappings map[string]mappingSpec `yaml:"mappings"`
	// Compress enables DNS name compression in responses (default false).
	Compress bool `yaml:"compress"`
	// Authoritative sets the AA bit on answers for mapped names (default true).
	Authoritative *bool `yaml:"authoritative"`
	// LogQueries logs every query at debug level (default false).
	LogQueries bool `yaml:"log_queries"`
}

// mappingSpec is one entry of spec.Mappings.
type mappingSpec struct {
	// Group is the redundancy group whose members answer the name.
	// Required.
	Group *uint64 `yaml:"group"`
	// FallbackAddresses answer the name while the group has no member
	// (default: none). They are parsed by validate, not by the decoder as
	// []netip.Addr: a decoding error ends New before validate runs, so a
	// bad address would hide every other problem of the spec, and its
	// message would no longer say "... is not an IP address".
	FallbackAddresses []string `yaml:"fallback_addresses"`
	// Port is the port of SRV answers for members that announce none
	// (default: none, such members are left out of SRV answers). 1 to
	// 65535.
	Port *uint16 `yaml:"port"`
}

// settings is a validated spec, ready for the responder.
type settings struct {
	bind          string
	names         map[string]*mapping // key: lowercase, fully qualified
	groupIDs      []uint64            // sorted, without duplicates
	compress      bool
	authoritative bool
	logQueries    bool
}

// mapping is what one configured name answers with.
type mapping struct {
	name     string // lowercase, fully qualified
	written  string // as written in the spec
	group    uint64
	fallback []netip.Addr // IPv4 as 4-byte addresses, never IPv4-mapped
	port     uint16       // SRV port of members without one; 0: none
}

// validate checks sp against the listener's groups and turns it into
// settings. It reports every problem it finds, each naming its key.
func (sp *spec) validate(known []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*settings, error) {
	var errs []error
	if err := checkBind(sp.BindAddress); err != nil {
		errs = append(errs, errorf("bind_address", "%w", err))
	}
	if len(sp.Mappings) == 0 {
		errs = append(errs, errorf("mappings", "at least one name is required"))
	}
	set := &settings{
		bind:          sp.BindAddress,
		names:         make(map[string]*mapping, len(sp.Mappings)),
		compress:      sp.Compress,
		authoritative: sp.Authoritative == nil || *sp.Authoritative,
		logQueries:    sp.LogQueries,
	}
	// Walk the names in a fixed order so that errors are reproducible.
	for _, written := range slices.Sorted(maps.Keys(sp.Mappings)) {
		key := sdk.JoinKey("mappings", written)
		m, mErrs := validateMapping(key, written, sp.Mappings[written], known, errorf)
		errs = append(errs, mErrs...)
		if m == nil {
			continue
		}
		if prev, dup := set.names[m.name]; dup {
			errs = append(errs, errorf(key, "same name as mapping %q once normalized (%s)", prev.written, m.name))
			continue
		}
		set.names[m.name] = m
		set.groupIDs = append(set.groupIDs, m.group)
	}
	if len(errs) > 0 {
		return nil, errors.Join(errs...)
	}
	slices.Sort(set.groupIDs)
	set.groupIDs = slices.Compact(set.groupIDs)
	return set, nil
}

// validateMapping checks the mapping of one name, found at key. It returns
// nil and the problems when there are any.
func validateMapping(key, written string, ms mappingSpec, known []sdk.GroupInfo, errorf sdk.ErrorfFunc) (*mapping, []error) {
	var errs []error
	name, err := normalizeName(written)
	if err != nil {
		errs = append(errs, errorf(key, "%q: %w", written, err))
	}
	switch {
	case ms.Group == nil:
		errs = append(errs, errorf(key+".group", "required"))
	case !slices.ContainsFunc(known, func(g sdk.GroupInfo) bool { return g.ID == *ms.Group }):
		errs = append(errs, errorf(key+".group", "group %d is not configured in the listener", *ms.Group))
	}
	m := &mapping{name: name, written: written}
	if ms.Group != nil {
		m.group = *ms.Group
	}
	if ms.Port != nil {
		if *ms.Port == 0 {
			errs = append(errs, errorf(key+".port", "must be 1 to 65535 (leave it out for no default port)"))
		}
		m.port = *ms.Port
	}
	for i, s := range ms.FallbackAddresses {
		at := fmt.Sprintf("%s.fallback_addresses[%d]", key, i)
		a, err := netip.ParseAddr(s)
		switch {
		case err != nil:
			errs = append(errs, errorf(at, "%q is not an IP address", s))
		case a.Zone() != "":
			errs = append(errs, errorf(at, "%q has a zone, which a DNS answer cannot carry", s))
		default:
			m.fallback = append(m.fallback, a.Unmap()) // ::ffff:a.b.c.d answers A queries
		}
	}
	if len(errs) > 0 {
		return nil, errs
	}
	return m, nil
}

// normalizeName returns the lookup form of a configured name: lowercase and
// fully qualified. Query names arrive in miekg/dns presentation format, where
// unusual bytes are escaped; escapes, non-ASCII bytes and wildcards are
// refused here so that the per-query lookup only has to lowercase ASCII.
func normalizeName(s string) (string, error) {
	if s == "" {
		return "", errors.New("empty domain name")
	}
	for i := 0; i < len(s); i++ {
		switch c := s[i]; {
		case c == '\\':
			return "", errors.New("escape sequences are not supported in names")
		case c == '*':
			return "", errors.New("wildcards are not supported: map each name")
		case c <= ' ' || c >= 0x7f:
			return "", errors.New("only printable ASCII is allowed (write internationalized names in their xn-- form)")
		}
	}
	name := miekg.CanonicalName(s) // lowercase, fully qualified
	if name == "." {
		return "", errors.New("the root cannot be mapped")
	}
	if _, ok := miekg.IsDomainName(name); !ok {
		return "", errors.New("not a valid domain name")
	}
	return name, nil
}

// checkBind accepts host:port with a numeric port; the host may be empty
// (every address), an IP address or a host name.
func checkBind(s string) error {
	if s == "" {
		return errors.New("required (for example \":8253\" or \"127.0.0.1:8253\")")
	}
	_, port, err := net.SplitHostPort(s)
	if err != nil {
		return fmt.Errorf("%q is not host:port: %w", s, err)
	}
	if _, err := strconv.ParseUint(port, 10, 16); err != nil {
		return fmt.Errorf("%q: port %q is not a number from 0 to 65535", s, port)
	}
	return nil
}
