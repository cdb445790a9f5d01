// Package inprocess lets sdktest build a plugin's OutputService, and decode
// a spec the way the plugin will, without starting a process. The service
// and the decoder's entry point are unexported in package sdk, so that gRPC
// and the wire form of a spec never show in the SDK's public API; sdk fills
// NewServer and DecodeSpec in its init and sdktest, which imports sdk,
// calls them. Nothing outside sdk/ can import
// this package.
package inprocess

import (
	"github.com/hashicorp/go-hclog"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// Options configures an in-process service.
type Options struct {
	// Log receives everything the SDK and the plugin log.
	Log hclog.Logger
	// Exit is called where the real plugin process would exit non-zero:
	// Run returned an error on its own, or a handler panicked.
	Exit func(error)
}

// NewServer builds the OutputService of plugin, which must be an sdk.Plugin
// (package sdk cannot be named here without an import cycle). It is set by
// package sdk's init.
var NewServer func(plugin any, opts Options) outputv1.OutputServiceServer

// DecodeSpec decodes spec text into v exactly as sdk.Config.Decode does
// for a spec starting at line of file. It is set by package sdk's init.
var DecodeSpec func(spec []byte, file string, line int, v any) error
