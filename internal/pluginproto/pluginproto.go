// Package pluginproto holds what the plugin host and the plugin SDK must agree
// on beyond the protobuf schema: the go-plugin handshake, the plugin-set name,
// the protocol version, and the conversions between wire and Go types.
//
// It lives under internal/ so that go-plugin and protobuf types never become
// part of the SDK's public API; the SDK may still import it because it is in
// the same module.
package pluginproto

import (
	"fmt"
	"net/netip"
	"slices"
	"time"

	"github.com/hashicorp/go-plugin"
)

// ProtocolVersion is go-plugin's "app protocol" version: the package
// rgap.output.v1. It stays 1 so that plugins built against any SDK of this
// package complete the handshake; what they speak within it is negotiated
// in GetInfo (ProtocolV1, ProtocolV2).
const ProtocolVersion = 1

// Plugin protocol versions, negotiated in GetInfo: the plugin lists those it
// speaks, the host uses the highest one it speaks too.
const (
	// ProtocolV1: members are addresses.
	ProtocolV1 uint32 = 1
	// ProtocolV2: members are (address, port) with a weight, and snapshots
	// are laid out by column.
	ProtocolV2 uint32 = 2
)

// ProtocolVersions lists the versions this build speaks, highest first.
var ProtocolVersions = []uint32{ProtocolV2, ProtocolV1}

// Negotiate returns the highest version both this build and a peer that
// speaks theirs know, or 0 when there is none.
func Negotiate(theirs []uint32) uint32 {
	for _, v := range ProtocolVersions {
		if slices.Contains(theirs, v) {
			return v
		}
	}
	return 0
}

// PluginName is the key of the output service in go-plugin's plugin set.
const PluginName = "output"

// Handshake is the go-plugin handshake. The magic cookie only stops a plugin
// binary from being run by hand by mistake; it is not a security measure.
var Handshake = plugin.HandshakeConfig{
	ProtocolVersion:  ProtocolVersion,
	MagicCookieKey:   "RGAP_PLUGIN_COOKIE",
	MagicCookieValue: "9c1d6f0e2b5a4c83a7e1d2f4b6c8e0a1-rgap-output",
}

// EnvParentPID carries the host's PID to the plugin, so the SDK can exit when
// its parent dies even where the parent-death signal did not fire.
const EnvParentPID = "RGAP_PLUGIN_PARENT_PID"

// AddrToBytes encodes an address for the wire: 4 bytes for IPv4 (including
// IPv4-mapped IPv6, which is unmapped), 16 for IPv6.
func AddrToBytes(a netip.Addr) []byte {
	a = a.Unmap()
	s := a.AsSlice()
	return s
}

// AddrFromBytes decodes an address from the wire. Anything but 4 or 16
// bytes is an error naming the length.
func AddrFromBytes(b []byte) (netip.Addr, error) {
	a, ok := netip.AddrFromSlice(b)
	if !ok {
		return netip.Addr{}, fmt.Errorf("address of %d bytes: want 4 or 16", len(b))
	}
	return a.Unmap(), nil
}

// MicrosToTime converts Unix microseconds to a time.Time.
func MicrosToTime(us int64) time.Time { return time.UnixMicro(us) }

// TimeToMicros converts a time.Time to Unix microseconds.
func TimeToMicros(t time.Time) int64 { return t.UnixMicro() }

// EnvLogLevel carries the host's log level ("trace", "debug", "info",
// "warn", "error") to the plugin, so that a plugin does not format lines the
// host would drop anyway. The SDK logs at info when it is unset or invalid.
const EnvLogLevel = "RGAP_PLUGIN_LOG_LEVEL"

// EnvHostGOMAXPROCS marks the GOMAXPROCS=1 in a plugin's environment as the
// host's default rather than an operator's choice. The host starts every
// plugin with one scheduler thread from the first instruction (set later,
// the runtime keeps the other threads' per-P memory, about 0.25 MiB per
// plugin); the SDK raises it back to every CPU for a plugin that asks for
// them (sdk.Plugin.AllCPUs) when this marker is present.
const EnvHostGOMAXPROCS = "RGAP_PLUGIN_HOST_GOMAXPROCS"
