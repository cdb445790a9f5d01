package protocol

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding"
	"encoding/binary"
	"fmt"
	"hash"
	"slices"
)

// macContext is prepended to the header inside the MAC, binding the MAC to
// this message type.
const macContext = "RGAP announce"

// macContextV2 is v2's domain string. The MAC inputs of the two versions
// differ in length (13+34 against 15+40 bytes), so no v1 MAC is ever a
// valid v2 MAC or the other way round, whatever the header bytes. It is 15
// bytes so that the inner hash of a v2 MAC, like v1's, fits one SHA-256
// block after the precomputed key block (15+40+9 bytes of padding ≤ 64):
// one compression per datagram instead of two.
const macContextV2 = "RGAP announce/2"

// Key is the HMAC-SHA256 key schedule of one PSK, prepared once by NewKey and
// then used for every datagram of that PSK.
//
// It stores the SHA-256 states after absorbing the PSK's ipad block followed
// by macContext (inner) and the opad block (outer), in the standard library's
// marshaled form. These states are as secret as the PSK itself, so a Key
// formats as "[redacted]" like a PSK.
//
// A Key is immutable after NewKey: Append and Verify may be called on one
// Key from any number of goroutines at once, and neither allocates (Append
// only grows dst when it lacks capacity).
type Key struct {
	inner, innerV2, outer []byte
}

// NewKey prepares the key schedule for psk.
func NewKey(psk PSK) *Key {
	var ipad, opad [sha256.BlockSize]byte
	copy(ipad[:], psk[:])
	copy(opad[:], psk[:])
	for i := range ipad {
		ipad[i] ^= 0x36
		opad[i] ^= 0x5c
	}
	h := sha256.New()
	h.Write(ipad[:])
	h.Write([]byte(macContext))
	k := &Key{inner: marshalState(h)}
	h.Reset()
	h.Write(ipad[:])
	h.Write([]byte(macContextV2))
	k.innerV2 = marshalState(h)
	h.Reset()
	h.Write(opad[:])
	k.outer = marshalState(h)
	clear(ipad[:])
	clear(opad[:])

	// Self-test against crypto/hmac. This also proves that every stored
	// state unmarshals, which is why sum may ignore those errors. A
	// failure is a broken standard library or build, not bad input.
	for _, c := range []struct {
		context string
		inner   []byte
		header  int
	}{{macContext, k.inner, offMAC}, {macContextV2, k.innerV2, offV2MAC}} {
		probe := make([]byte, c.header)
		want := hmac.New(sha256.New, psk[:])
		want.Write([]byte(c.context))
		want.Write(probe)
		if got := k.sum(c.inner, probe); !hmac.Equal(got[:], want.Sum(nil)) {
			panic("protocol: precomputed HMAC-SHA256 state disagrees with crypto/hmac")
		}
	}
	return k
}

func marshalState(h hash.Hash) []byte {
	state, err := h.(encoding.BinaryMarshaler).MarshalBinary()
	if err != nil {
		panic(fmt.Sprintf("protocol: cannot save SHA-256 state: %v", err))
	}
	return state
}

// sum returns HMAC-SHA256(psk, context || header), inner being the state
// after the PSK's ipad block and that version's context. sha256.New is
// inlined and its interface calls devirtualized, so the hash lives on the
// stack.
func (k *Key) sum(inner, header []byte) (mac [sha256.Size]byte) {
	h := sha256.New()
	_ = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(inner) // checked by NewKey
	h.Write(header)
	h.Sum(mac[:0])
	_ = h.(encoding.BinaryUnmarshaler).UnmarshalBinary(k.outer) // checked by NewKey
	h.Write(mac[:])
	h.Sum(mac[:0])
	return mac
}

// Append appends the signed datagram for a to dst and returns the extended
// slice: a v2 datagram (SizeV2 bytes) when a.Version is VersionV2, else a v1
// datagram (Size bytes), which carries none of the v2-only fields. An IPv4
// address (plain or IPv4-mapped) is written as ::ffff:a.b.c.d; an IPv6 zone
// is dropped; the zero netip.Addr is written as :: (all zeros).
func (k *Key) Append(dst []byte, a Announcement) []byte {
	addr := a.Addr.As16()
	if a.V2() {
		dst = slices.Grow(dst, SizeV2)
		start := len(dst)
		var flags uint8
		if a.Leave {
			flags |= FlagLeave
		}
		dst = binary.BigEndian.AppendUint16(dst, VersionV2)
		dst = append(dst, flags, a.KeyID)
		dst = binary.BigEndian.AppendUint64(dst, a.Group)
		dst = binary.BigEndian.AppendUint64(dst, uint64(a.Timestamp))
		dst = append(dst, addr[:]...)
		dst = binary.BigEndian.AppendUint16(dst, a.Port)
		dst = binary.BigEndian.AppendUint16(dst, a.Weight)
		mac := k.sum(k.innerV2, dst[start:])
		return append(dst, mac[:]...)
	}
	dst = slices.Grow(dst, Size)
	start := len(dst)
	dst = binary.BigEndian.AppendUint16(dst, Version)
	dst = binary.BigEndian.AppendUint64(dst, a.Group)
	dst = binary.BigEndian.AppendUint64(dst, uint64(a.Timestamp))
	dst = append(dst, addr[:]...)
	mac := k.sum(k.inner, dst[start:])
	return append(dst, mac[:]...)
}

// Verify checks the MAC of datagram b (v1 or v2), which Parse should
// already have accepted, and returns ErrMAC if it does not match this key.
// The comparison takes constant time. So that Verify is safe on any input,
// it repeats Parse's length and version checks first and returns ErrLength
// or ErrVersion before looking at the MAC. It never allocates.
func (k *Key) Verify(b []byte) error {
	var inner []byte
	var header int
	switch len(b) {
	case Size:
		if binary.BigEndian.Uint16(b[offVersion:]) != Version {
			return ErrVersion
		}
		inner, header = k.inner, offMAC
	case SizeV2:
		if binary.BigEndian.Uint16(b[offVersion:]) != VersionV2 || b[offV2Flags]&^FlagLeave != 0 {
			return ErrVersion
		}
		inner, header = k.innerV2, offV2MAC
	default:
		return ErrLength
	}
	mac := k.sum(inner, b[:header])
	if !hmac.Equal(mac[:], b[header:]) {
		return ErrMAC
	}
	return nil
}

// String returns "[redacted]": a Key is as secret as its PSK.
func (k Key) String() string { return redacted }

// GoString returns a redacted Go-syntax form for %#v.
func (k Key) GoString() string { return "protocol.Key{" + redacted + "}" }

// Format implements fmt.Formatter so that no verb prints the key schedule.
func (k Key) Format(f fmt.State, verb rune) { formatRedacted(f, verb, k.GoString()) }
