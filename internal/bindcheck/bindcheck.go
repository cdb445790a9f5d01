// Package bindcheck tells, before any socket is opened, which of the
// addresses the listener and its outputs are about to bind cannot all be
// bound: two dns outputs on one port, or an output on the port of a `listen`
// entry. Without the check the second bind fails only at run time, and the
// output is restarted over and over.
//
// The rules follow Linux and Go's net package, and report a clash only when
// the bind would certainly fail, so that a working configuration is never
// refused:
//
//   - Only binds of the same protocol (udp or tcp) on the same port clash.
//     Port 0 lets the kernel choose and never clashes.
//   - Two specific hosts clash when they are the same IP address (an
//     IPv4-mapped IPv6 address is its IPv4 address) or the same host name.
//   - A wildcard host (empty, 0.0.0.0 or ::) clashes with every host of the
//     families it covers: with network "udp" or "tcp" both families (Go
//     binds a dual-stack socket for a wildcard), with a "4" or "6" suffix
//     that family only. A host name clashes only with a wildcard covering
//     both families, since it could resolve to either.
//   - Two UDP binds that both set SO_REUSEADDR (Bind.Shared; the listener's
//     multicast sockets do) may share an address and never clash.
package bindcheck

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// ErrClash is wrapped by every *ClashError.
var ErrClash = errors.New("address clash")

// ErrInvalid is wrapped by the error for a bind that cannot be understood
// (unknown network, address not host:port, port not a number).
var ErrInvalid = errors.New("invalid bind")

// Bind is one address a socket will be bound to.
type Bind struct {
	// Owner names who binds it, for messages, e.g.
	// `output 2 (kind "dns") at rgap.yaml:14`.
	Owner string
	// Network is "udp", "udp4", "udp6", "tcp", "tcp4" or "tcp6", as for
	// Go's net.Listen and net.ListenPacket.
	Network string
	// Address is host:port; IPv6 hosts in brackets.
	Address string
	// Shared: the socket sets SO_REUSEADDR, so another UDP socket that
	// also sets it may bind the same address.
	Shared bool
}

// ClashError is two binds that cannot both succeed; A comes first in the
// list given to Check.
type ClashError struct {
	A, B Bind
}

// Error names both owners and the addresses.
func (e *ClashError) Error() string {
	a, _ := parse(e.A)
	b, _ := parse(e.B)
	if a.sameAddress(b) {
		return fmt.Sprintf("%v: %s and %s both bind %s %s", ErrClash, e.A.Owner, e.B.Owner, a.proto, describe(e.A.Address))
	}
	return fmt.Sprintf("%v: %s binds %s %s, which overlaps %s %s bound by %s",
		ErrClash, e.B.Owner, e.B.Network, describe(e.B.Address), e.A.Network, describe(e.A.Address), e.A.Owner)
}

// Unwrap returns ErrClash.
func (e *ClashError) Unwrap() error { return ErrClash }

// describe spells out what an empty host means.
func describe(addr string) string {
	if strings.HasPrefix(addr, ":") {
		return addr + " (every address)"
	}
	return addr
}

// Check returns nil when every bind can succeed alongside the others.
// Otherwise it returns every problem joined (errors.Join): a *ClashError for
// each clashing pair, in the order of the binds, and an error wrapping
// ErrInvalid and naming the owner for each bind it cannot understand.
func Check(binds []Bind) error {
	var errs []error
	parsed := make([]*addr, len(binds))
	for i, b := range binds {
		a, err := parse(b)
		if err != nil {
			errs = append(errs, fmt.Errorf("%s: %w", b.Owner, err))
			continue
		}
		parsed[i] = &a
	}
	for i := range binds {
		for j := i + 1; j < len(binds); j++ {
			if parsed[i] != nil && parsed[j] != nil && parsed[i].clashes(*parsed[j]) {
				errs = append(errs, &ClashError{A: binds[i], B: binds[j]})
			}
		}
	}
	return errors.Join(errs...)
}

// family is a set of address families.
type family uint8

const (
	v4 family = 1 << iota
	v6
	both = v4 | v6
)

// addr is a parsed Bind.
type addr struct {
	proto    string // "udp" or "tcp"
	port     uint16
	wildcard bool
	fams     family     // for a wildcard: the families it covers
	ip       netip.Addr // a specific IP host (unmapped)
	name     string     // a host name (lowercase, no trailing dot)
	shared   bool
}

func parse(b Bind) (addr, error) {
	var a addr
	var fams family
	switch b.Network {
	case "udp", "tcp":
		fams = both
	case "udp4", "tcp4":
		fams = v4
	case "udp6", "tcp6":
		fams = v6
	default:
		return a, fmt.Errorf("%w: network %q (want udp, udp4, udp6, tcp, tcp4 or tcp6)", ErrInvalid, b.Network)
	}
	a.proto = b.Network[:3]
	host, port, err := net.SplitHostPort(b.Address)
	if err != nil {
		return a, fmt.Errorf("%w: %s %q: %w", ErrInvalid, b.Network, b.Address, err)
	}
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return a, fmt.Errorf("%w: %s %q: port %q is not a number from 0 to 65535", ErrInvalid, b.Network, b.Address, port)
	}
	a.port = uint16(p)
	a.shared = b.Shared
	if host == "" {
		a.wildcard, a.fams = true, fams
		return a, nil
	}
	if ip, err := netip.ParseAddr(host); err == nil {
		ip = ip.Unmap()
		if ip.IsUnspecified() {
			a.wildcard, a.fams = true, fams
		} else {
			a.ip = ip
		}
		return a, nil
	}
	a.name = strings.TrimSuffix(strings.ToLower(host), ".")
	return a, nil
}

// familyOf is the family of a specific IP host.
func (a addr) familyOf() family {
	if a.ip.Is4() {
		return v4
	}
	return v6
}

// sameAddress reports whether a and b name the same protocol, port and
// specific host.
func (a addr) sameAddress(b addr) bool {
	if a.proto != b.proto || a.port != b.port || a.wildcard || b.wildcard {
		return false
	}
	if a.ip.IsValid() || b.ip.IsValid() {
		return a.ip == b.ip
	}
	return a.name == b.name
}

// clashes reports whether a and b cannot both be bound (see the package
// doc for the rules).
func (a addr) clashes(b addr) bool {
	switch {
	case a.proto != b.proto, a.port == 0, a.port != b.port:
		return false
	case a.proto == "udp" && a.shared && b.shared:
		return false
	case a.wildcard && b.wildcard:
		return a.fams&b.fams != 0
	case a.wildcard:
		return a.covers(b)
	case b.wildcard:
		return b.covers(a)
	}
	return a.sameAddress(b)
}

// covers reports whether the wildcard a includes the specific host s.
func (a addr) covers(s addr) bool {
	if s.ip.IsValid() {
		return a.fams&s.familyOf() != 0
	}
	return a.fams == both // a name may resolve to either family
}
