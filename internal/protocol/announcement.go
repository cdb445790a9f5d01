package protocol

import (
	"encoding/binary"
	"errors"
	"fmt"
	"net/netip"
	"time"
)

// Size is the length of a v1 announcement datagram in bytes.
const Size = 66

// SizeV2 is the length of a v2 announcement datagram in bytes.
const SizeV2 = 72

// Version is protocol v1 as it appears in the first two bytes of a
// datagram: the original implementation's format.
const Version uint16 = 0x0100

// VersionV2 is protocol v2: v1's fields plus flags (leave), a key id, a
// port and a weight.
const VersionV2 uint16 = 0x0200

// Field offsets within a v1 datagram; see the package documentation.
const (
	offVersion   = 0
	offGroup     = 2
	offTimestamp = 10
	offAddress   = 18
	offMAC       = 34 // also the length of the signed header
	macSize      = Size - offMAC
)

// Field offsets within a v2 datagram; see the package documentation.
const (
	offV2Flags     = 2
	offV2KeyID     = 3
	offV2Group     = 4
	offV2Timestamp = 12
	offV2Address   = 20
	offV2Port      = 36
	offV2Weight    = 38
	offV2MAC       = 40 // also the length of the signed header
)

// FlagLeave is the v2 flag bit that says the sender is leaving the group.
// Every other bit is reserved: a v2 datagram with one of them set is
// refused with ErrVersion, because it says something this receiver cannot
// understand.
const FlagLeave uint8 = 1 << 0

// Sentinel errors returned by Parse and Key.Verify, one per drop reason, so
// the caller can count drops with errors.Is. They are returned bare (never
// wrapped) to keep the rejection path allocation-free; Describe supplies the
// detail when it is wanted.
var (
	// ErrLength means the datagram is not exactly Size bytes long.
	ErrLength = errors.New("protocol: wrong datagram length (want 66 bytes)")
	// ErrVersion means the datagram's version field is not Version.
	ErrVersion = errors.New("protocol: unsupported protocol version (want 0x0100)")
	// ErrMAC means the HMAC does not match: the datagram was signed with
	// another PSK or altered in transit.
	ErrMAC = errors.New("protocol: HMAC mismatch (wrong PSK or tampered datagram)")
)

// Announcement is the content of a datagram: address Addr is alive in
// redundancy group Group as of Timestamp (or, in v2, leaving it).
type Announcement struct {
	// Version is the wire version: Version (v1) or VersionV2. Parse sets
	// it; for Append the zero value means v1.
	Version uint16
	// Group is the redundancy group id.
	Group uint64
	// Timestamp is the sender's clock when it sent the datagram, in
	// microseconds since the Unix epoch.
	Timestamp int64
	// Addr is the announced address. Parse returns IPv4 addresses in
	// their 4-byte form (never IPv4-mapped IPv6); Append accepts either
	// form and writes both as ::ffff:a.b.c.d. An IPv6 zone is not sent.
	Addr netip.Addr

	// The fields below exist in v2 only; v1 datagrams parse with them
	// zero, and Append leaves them out of a v1 datagram.

	// Leave: the sender is leaving the group (FlagLeave).
	Leave bool
	// KeyID names which of the group's keys signed the datagram.
	KeyID uint8
	// Port is the service port the member serves on; 0 means none.
	Port uint16
	// Weight is the member's relative share of traffic; 0 means the
	// receiver's default.
	Weight uint16
}

// V2 reports whether a is (to be) a v2 datagram.
func (a Announcement) V2() bool { return a.Version == VersionV2 }

// Time returns Timestamp as a time.Time.
func (a Announcement) Time() time.Time { return time.UnixMicro(a.Timestamp) }

// String describes the announcement for logs and test failures.
func (a Announcement) String() string {
	s := fmt.Sprintf("group %d address %v time %s", a.Group, a.Addr, a.Time().UTC().Format(time.RFC3339Nano))
	if a.V2() {
		s = fmt.Sprintf("v2 %s port %d weight %d key %d", s, a.Port, a.Weight, a.KeyID)
		if a.Leave {
			s += " leave"
		}
	}
	return s
}

// Parse decodes the header of datagram b after checking its length
// (ErrLength: neither Size nor SizeV2) and version (ErrVersion: not the
// version of that length, or a v2 datagram with a reserved flag set), in
// that order. It does not check the MAC: the fields are unauthenticated
// until the caller has picked the key for Group (and KeyID) and Key.Verify
// has accepted b. Parse never allocates.
func Parse(b []byte) (Announcement, error) {
	switch len(b) {
	case Size:
		if binary.BigEndian.Uint16(b[offVersion:]) != Version {
			return Announcement{}, ErrVersion
		}
		return Announcement{
			Version:   Version,
			Group:     binary.BigEndian.Uint64(b[offGroup:]),
			Timestamp: int64(binary.BigEndian.Uint64(b[offTimestamp:])),
			Addr:      netip.AddrFrom16([16]byte(b[offAddress:offMAC])).Unmap(),
		}, nil
	case SizeV2:
		if binary.BigEndian.Uint16(b[offVersion:]) != VersionV2 || b[offV2Flags]&^FlagLeave != 0 {
			return Announcement{}, ErrVersion
		}
		return Announcement{
			Version:   VersionV2,
			Group:     binary.BigEndian.Uint64(b[offV2Group:]),
			Timestamp: int64(binary.BigEndian.Uint64(b[offV2Timestamp:])),
			Addr:      netip.AddrFrom16([16]byte(b[offV2Address:offV2Port])).Unmap(),
			Leave:     b[offV2Flags]&FlagLeave != 0,
			KeyID:     b[offV2KeyID],
			Port:      binary.BigEndian.Uint16(b[offV2Port:]),
			Weight:    binary.BigEndian.Uint16(b[offV2Weight:]),
		}, nil
	}
	return Announcement{}, ErrLength
}

// Describe explains in words what Parse makes of b, for debug logs of
// dropped datagrams: the actual length or version when Parse rejects it, or
// the (unauthenticated) header fields when Parse accepts it, which is what
// an operator needs to find the sender of a datagram that then fails
// Verify. It allocates, so call it only when the message will be logged.
func Describe(b []byte) string {
	want := map[int]uint16{Size: Version, SizeV2: VersionV2}
	v, ok := want[len(b)]
	if !ok {
		return fmt.Sprintf("length %d bytes, want %d (v1) or %d (v2)", len(b), Size, SizeV2)
	}
	if got := binary.BigEndian.Uint16(b[offVersion:]); got != v {
		return fmt.Sprintf("version 0x%04x in a %d-byte datagram, want 0x%04x", got, len(b), v)
	}
	a, err := Parse(b)
	if err != nil {
		return fmt.Sprintf("v2 flags 0x%02x, reserved bits set", b[offV2Flags])
	}
	return a.String()
}
