package protocol

import (
	"errors"
	"net/netip"
)

// ErrAddress is wrapped by every error from CheckAddress: the announced
// address is not one a backend can be reached at.
var ErrAddress = errors.New("not a unicast host address")

// Address classes CheckAddress refuses, as sentinels so the hot path can
// return them without allocating.
var (
	errUnspecified = &addressError{"unspecified address"}
	errMulticast   = &addressError{"multicast address"}
	errBroadcast   = &addressError{"limited-broadcast address"}
	errLinkLocal   = &addressError{"link-local address"}
	errInvalid     = &addressError{"invalid address"}
)

type addressError struct{ what string }

func (e *addressError) Error() string { return e.what + " is " + ErrAddress.Error() }
func (e *addressError) Unwrap() error { return ErrAddress }

// CheckAddress reports whether a is an address an announcement may carry:
// a unicast address of one host. It refuses the unspecified addresses
// (0.0.0.0, ::), multicast (224.0.0.0/4, ff00::/8), the limited broadcast
// 255.255.255.255, and link-local unicast (169.254.0.0/16, fe80::/10), whose
// meaning depends on an interface the announcement does not name. Loopback
// is allowed: a listener and its agents may share one host. IPv4-mapped
// IPv6 addresses are judged as the IPv4 address they carry. It never
// allocates; the error unwraps to ErrAddress.
//
// The listener drops such announcements (reason bad_address) and the agent
// refuses to announce them, so the rule lives here, next to the wire format
// both speak.
func CheckAddress(a netip.Addr) error {
	a = a.Unmap()
	switch {
	case !a.IsValid():
		return errInvalid
	case a.IsUnspecified():
		return errUnspecified
	case a.IsMulticast():
		return errMulticast
	case a == netip.AddrFrom4([4]byte{255, 255, 255, 255}):
		return errBroadcast
	case a.IsLinkLocalUnicast():
		return errLinkLocal
	}
	return nil
}
