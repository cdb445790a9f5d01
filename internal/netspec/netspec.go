// Package netspec parses the UDP address specs written in the listener's
// `listen` list and the agent's `--dst` flag:
//
//	host:port               239.82.71.65:8271, [::1]:8271, :8271
//	host:port@iface         239.82.71.65:8271@eth0, [ff02::1]:8271@eth0
//	host:port@IP/prefixlen  239.82.71.65:8271@192.168.0.0/16
//
// The part after '@' names a network interface, either directly or as "the
// interface that owns an address inside this prefix". The prefix form exists
// because interface names differ between hosts (eth0, ens3, enp0s31f6) while
// the subnet a service lives on is usually the same everywhere, so one config
// file can be shipped to every machine.
//
// Design decisions:
//
//   - The host must be an IP literal (or empty). Specs are read once at
//     startup and a daemon that silently follows DNS for its bind or send
//     address is surprising; rejecting names keeps resolution out of this
//     package entirely.
//   - An empty host (":8271") is accepted by Parse; whether it makes sense is
//     the caller's decision (a listener binds every address, an agent has
//     nowhere to send to and must refuse it).
//   - IPv4-mapped IPv6 literals ("[::ffff:10.0.0.1]:8271") are unmapped to
//     plain IPv4, so the socket code has one representation per family.
//   - Parsing is purely syntactic. The interface is looked up only when
//     Interface is called, so a config file can be validated on a machine
//     that lacks the interface, and an interface that appears later (a VPN
//     coming up) is found when the socket is opened.
//   - Interface names follow the Linux rules (at most 15 bytes, no '/', ':'
//     or white space, not "." or ".."), so a typo is reported at parse time
//     rather than as an obscure error from the kernel.
package netspec

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"strconv"
	"strings"
)

// MaxInterfaceNameLen is the longest interface name Linux accepts
// (IFNAMSIZ minus the terminating NUL).
const MaxInterfaceNameLen = 15

// ErrNoInterface is returned (wrapped) by Spec.Interface when no interface
// matches the spec's interface name or prefix.
var ErrNoInterface = errors.New("no matching network interface")

// Spec is a parsed address spec: an IP address and port, optionally tied to
// a network interface given by name (Iface) or by a prefix one of its
// addresses lies in (Prefix). At most one of Iface and Prefix is set.
type Spec struct {
	// Addr is the IP address and port. Addr.Addr() is the zero netip.Addr
	// when the spec's host was empty (":8271").
	Addr netip.AddrPort
	// Iface is the interface name given after '@', or "".
	Iface string
	// Prefix is the IP/prefixlen given after '@', or the zero Prefix. It is
	// kept as written (not masked), so String reproduces the input.
	Prefix netip.Prefix
}

// Parse parses an address spec of the form host:port, host:port@iface or
// host:port@IP/prefixlen. IPv6 hosts must be bracketed ("[::1]:8271"). Errors
// quote the whole spec and say which part is wrong.
func Parse(s string) (Spec, error) {
	var spec Spec
	hostport, suffix, hasSuffix := strings.Cut(s, "@")
	addr, err := parseHostPort(hostport)
	if err != nil {
		return Spec{}, fmt.Errorf("address spec %q: %w", s, err)
	}
	spec.Addr = addr
	if hasSuffix {
		if err := spec.parseSuffix(suffix); err != nil {
			return Spec{}, fmt.Errorf("address spec %q: %w", s, err)
		}
	}
	return spec, nil
}

func parseHostPort(hostport string) (netip.AddrPort, error) {
	if hostport == "" {
		return netip.AddrPort{}, errors.New("empty address, want host:port")
	}
	// A bare address ("10.0.0.1", "::1", "[::1]") is the most likely
	// mistake; name the missing port instead of echoing SplitHostPort.
	bare := hostport
	if inner, ok := strings.CutPrefix(hostport, "["); ok {
		bare = strings.TrimSuffix(inner, "]")
		if len(bare) == len(inner) {
			bare = "" // "[..." without a closing bracket at the end: has a port or is malformed
		}
	}
	if a, err := netip.ParseAddr(bare); err == nil {
		if a.Is6() && bare == hostport {
			return netip.AddrPort{}, fmt.Errorf("missing port (write IPv6 addresses in brackets, e.g. [%s]:8271)", a)
		}
		return netip.AddrPort{}, errors.New("missing port")
	}
	host, portStr, err := net.SplitHostPort(hostport)
	if err != nil {
		return netip.AddrPort{}, fmt.Errorf("want host:port: %w", err)
	}
	port, err := parsePort(portStr)
	if err != nil {
		return netip.AddrPort{}, err
	}
	if host == "" {
		return netip.AddrPortFrom(netip.Addr{}, port), nil
	}
	ip, err := netip.ParseAddr(host)
	if err != nil {
		if looksLikeIP(host) {
			return netip.AddrPort{}, fmt.Errorf("bad IP address %q: %w", host, err)
		}
		return netip.AddrPort{}, fmt.Errorf("host must be an IP address, got %q", host)
	}
	if ip.Zone() != "" && !ip.Is6() {
		// ParseAddr already refuses zones on IPv4; this is defensive.
		return netip.AddrPort{}, fmt.Errorf("bad IP address %q: zone on IPv4", host)
	}
	if ip.Is4In6() {
		ip = ip.Unmap()
	}
	return netip.AddrPortFrom(ip, port), nil
}

// looksLikeIP reports whether a host that failed to parse was probably meant
// as an IP literal (digits, dots, colons, hex) rather than a host name, to
// pick the more helpful error message.
func looksLikeIP(host string) bool {
	if strings.Contains(host, ":") {
		return true
	}
	for _, r := range host {
		if (r < '0' || r > '9') && r != '.' {
			return false
		}
	}
	return true
}

func parsePort(p string) (uint16, error) {
	if p == "" {
		return 0, errors.New("missing port")
	}
	for _, r := range p {
		if r < '0' || r > '9' {
			return 0, fmt.Errorf("bad port %q: not a decimal number", p)
		}
	}
	n, err := strconv.ParseUint(p, 10, 64)
	if err != nil || n > 65535 {
		return 0, fmt.Errorf("bad port %q: must be 1..65535", p)
	}
	if n == 0 {
		return 0, errors.New("bad port 0: must be 1..65535")
	}
	return uint16(n), nil
}

func (spec *Spec) parseSuffix(suffix string) error {
	if suffix == "" {
		return errors.New("empty interface name after '@'")
	}
	if strings.Contains(suffix, "/") {
		p, err := netip.ParsePrefix(suffix)
		if err != nil {
			return fmt.Errorf("bad prefix %q after '@' (want IP/prefixlen, e.g. 192.168.0.0/16): %w", suffix, err)
		}
		spec.Prefix = p
		return nil
	}
	if _, err := netip.ParseAddr(suffix); err == nil {
		return fmt.Errorf("%q after '@' is an IP address, not an interface; give a prefix such as %s/24", suffix, suffix)
	}
	if err := validInterfaceName(suffix); err != nil {
		return err
	}
	spec.Iface = suffix
	return nil
}

// validInterfaceName mirrors the kernel's dev_valid_name.
func validInterfaceName(name string) error {
	if len(name) > MaxInterfaceNameLen {
		return fmt.Errorf("interface name %q is longer than %d bytes", name, MaxInterfaceNameLen)
	}
	if name == "." || name == ".." {
		return fmt.Errorf("bad interface name %q", name)
	}
	for _, r := range name {
		if r == '/' || r == ':' || r == 0 || r == ' ' || (r >= '\t' && r <= '\r') {
			return fmt.Errorf("bad interface name %q: contains %q", name, r)
		}
	}
	return nil
}

// String formats the spec so that Parse(s.String()) returns s.
func (s Spec) String() string {
	var b strings.Builder
	if s.Addr.Addr().IsValid() {
		b.WriteString(s.Addr.String())
	} else {
		b.WriteString(":")
		b.WriteString(strconv.Itoa(int(s.Addr.Port())))
	}
	switch {
	case s.Iface != "":
		b.WriteString("@")
		b.WriteString(s.Iface)
	case s.Prefix.IsValid():
		b.WriteString("@")
		b.WriteString(s.Prefix.String())
	}
	return b.String()
}

// IsMulticast reports whether the spec's address is a multicast group.
func (s Spec) IsMulticast() bool {
	return s.Addr.Addr().IsMulticast()
}

// Interface looks up the interface the spec names: by name when Iface is
// set, or the first interface (in index order) owning an address inside
// Prefix. It returns nil, nil when the spec names no interface. Errors quote
// the spec; a missing interface wraps ErrNoInterface.
func (s Spec) Interface() (*net.Interface, error) {
	switch {
	case s.Iface != "":
		ifi, err := net.InterfaceByName(s.Iface)
		if err != nil {
			return nil, fmt.Errorf("address spec %q: interface %q: %w (%w)", s, s.Iface, ErrNoInterface, err)
		}
		return ifi, nil
	case s.Prefix.IsValid():
		ifaces, err := net.Interfaces()
		if err != nil {
			return nil, fmt.Errorf("address spec %q: list interfaces: %w", s, err)
		}
		ifi, err := interfaceInPrefix(ifaces, s.Prefix, (*net.Interface).Addrs)
		if err != nil {
			return nil, fmt.Errorf("address spec %q: %w", s, err)
		}
		return ifi, nil
	}
	return nil, nil
}

// interfaceInPrefix returns the first interface with an address in p.
// addrsOf is a parameter so tests can supply interfaces without a kernel.
func interfaceInPrefix(ifaces []net.Interface, p netip.Prefix, addrsOf func(*net.Interface) ([]net.Addr, error)) (*net.Interface, error) {
	var errs []error
	for i := range ifaces {
		addrs, err := addrsOf(&ifaces[i])
		if err != nil {
			errs = append(errs, fmt.Errorf("interface %q: %w", ifaces[i].Name, err))
			continue
		}
		for _, a := range addrs {
			if ip, ok := AddrOf(a); ok && p.Contains(ip) {
				return &ifaces[i], nil
			}
		}
	}
	err := fmt.Errorf("no interface has an address in %s: %w", p, ErrNoInterface)
	if len(errs) > 0 {
		err = errors.Join(append([]error{err}, errs...)...)
	}
	return nil, err
}

// AddrOf extracts the IP address of an interface address as returned by
// net.Interface.Addrs (*net.IPNet or *net.IPAddr), unmapped and without a
// zone. ok is false for any other type.
func AddrOf(a net.Addr) (ip netip.Addr, ok bool) {
	var raw net.IP
	switch a := a.(type) {
	case *net.IPNet:
		raw = a.IP
	case *net.IPAddr:
		raw = a.IP
	default:
		return netip.Addr{}, false
	}
	ip, ok = netip.AddrFromSlice(raw)
	return ip.Unmap(), ok
}
