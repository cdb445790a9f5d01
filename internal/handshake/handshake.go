// Package handshake holds what the plugin host and the plugin SDK must agree
// on beyond the protobuf schema: the go-plugin handshake, the plugin-set name,
// the plugin protocol versions and their negotiation, and the names of the
// environment variables the host sets for a plugin. The conversions between
// wire and Go types live with each side (internal/pluginhost's encode.go,
// the SDK's wire.go).
//
// It lives under internal/ so that go-plugin types never become part of the
// SDK's public API; the SDK may still import it because it is in the same
// module.
package handshake

import (
	"context"
	"errors"
	"slices"

	"github.com/hashicorp/go-plugin"
	"google.golang.org/grpc"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
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

// ServerPlugin is the go-plugin plugin of a plugin process: it registers
// Service with the process's gRPC server. It has no client side, because
// the host dials plugins with its own client (internal/pluginhost). The SDK
// serves its service through it, and the host's tests serve their
// misbehaving fakes the same way.
type ServerPlugin struct {
	plugin.NetRPCUnsupportedPlugin
	Service outputv1.OutputServiceServer
}

// GRPCServer registers the service.
func (p *ServerPlugin) GRPCServer(_ *plugin.GRPCBroker, s *grpc.Server) error {
	outputv1.RegisterOutputServiceServer(s, p.Service)
	return nil
}

// GRPCClient refuses: a plugin process serves OutputService and never dials it.
func (p *ServerPlugin) GRPCClient(context.Context, *plugin.GRPCBroker, *grpc.ClientConn) (any, error) {
	return nil, errors.New("a plugin serves OutputService; the client side belongs to the rgap host")
}
