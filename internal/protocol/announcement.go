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

// Version is the only protocol version this package speaks, as it appears in
// the first two bytes of a datagram.
const Version uint16 = 0x0100

// Field offsets within a datagram; see the package documentation.
const (
	offVersion   = 0
	offGroup     = 2
	offTimestamp = 10
	offAddress   = 18
	offMAC       = 34 // also the length of the signed header
	macSize      = Size - offMAC
)

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
// redundancy group Group as of Timestamp.
type Announcement struct {
	// Group is the redundancy group id.
	Group uint64
	// Timestamp is the sender's clock when it sent the datagram, in
	// microseconds since the Unix epoch.
	Timestamp int64
	// Addr is the announced address. Parse returns IPv4 addresses in
	// their 4-byte form (never IPv4-mapped IPv6); Append accepts either
	// form and writes both as ::ffff:a.b.c.d. An IPv6 zone is not sent.
	Addr netip.Addr
}

// Time returns Timestamp as a time.Time.
func (a Announcement) Time() time.Time { return time.UnixMicro(a.Timestamp) }

// String describes the announcement for logs and test failures.
func (a Announcement) String() string {
	return fmt.Sprintf("group %d address %v time %s", a.Group, a.Addr, a.Time().UTC().Format(time.RFC3339Nano))
}

// Parse decodes the header of datagram b after checking its length
// (ErrLength) and version (ErrVersion), in that order. It does not check the
// MAC: the fields are unauthenticated until the caller has picked the key for
// Group and Key.Verify has accepted b. Parse never allocates.
func Parse(b []byte) (Announcement, error) {
	if len(b) != Size {
		return Announcement{}, ErrLength
	}
	if binary.BigEndian.Uint16(b[offVersion:]) != Version {
		return Announcement{}, ErrVersion
	}
	return Announcement{
		Group:     binary.BigEndian.Uint64(b[offGroup:]),
		Timestamp: int64(binary.BigEndian.Uint64(b[offTimestamp:])),
		Addr:      netip.AddrFrom16([16]byte(b[offAddress:offMAC])).Unmap(),
	}, nil
}

// Describe explains in words what Parse makes of b, for debug logs of
// dropped datagrams: the actual length or version when Parse rejects it, or
// the (unauthenticated) header fields when Parse accepts it, which is what
// an operator needs to find the sender of a datagram that then fails
// Verify. It allocates, so call it only when the message will be logged.
func Describe(b []byte) string {
	if len(b) != Size {
		return fmt.Sprintf("length %d bytes, want %d", len(b), Size)
	}
	if v := binary.BigEndian.Uint16(b[offVersion:]); v != Version {
		return fmt.Sprintf("version 0x%04x, want 0x%04x", v, Version)
	}
	a, _ := Parse(b) // cannot fail: length and version were checked above
	return a.String()
}
