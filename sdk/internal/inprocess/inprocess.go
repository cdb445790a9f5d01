// Package inprocess lends sdktest two of package sdk's unexported entry
// points: building a plugin's OutputService, and decoding a spec the way
// the plugin will, so that a plugin runs inside a test without a process.
// Nothing outside sdk/ can import this package.
//
// # Why a registration
//
// The entry points stay unexported in package sdk so that gRPC and the wire
// form of a spec never show in the SDK's public API (an exported function,
// or a type alias to an internal type, would put them in sdk's
// documentation). Moving the service here instead would move sdk.Plugin,
// sdk.Config and every type they name with it, behind aliases. So package
// sdk registers its entry points once, from its init, with Register, and
// sdktest, which imports sdk (so sdk's init has run), takes them with
// Lookup.
//
// Register and Lookup are typed by the plugin type P, which is sdk.Plugin:
// this package cannot name it, since sdk imports this package. Both sides
// state P, so each hook has the signature its caller expects and no hook
// takes an `any` plugin or is a variable anyone may assign. The one stored
// value (an `any` only because Go has no generic variables) is written once
// by Register and read back by Lookup as the Hooks of the type it asks for.
// sdktest looks its hooks up when its package is initialised, so a mismatch
// (sdk registering nothing, or another type) fails every test binary that
// uses sdktest at start, not one call deep inside a test.
package inprocess

import (
	"fmt"

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

// Hooks are package sdk's entry points for a plugin of type P (sdk.Plugin).
type Hooks[P any] struct {
	// NewServer builds the OutputService that serves plugin, as the
	// plugin process would.
	NewServer func(plugin P, opts Options) outputv1.OutputServiceServer
	// DecodeSpec decodes spec text into v (a pointer, as for
	// sdk.Config.Decode) exactly as sdk.Config.Decode does for a spec
	// starting at line of file.
	DecodeSpec func(spec []byte, file string, line int, v any) error
}

// registered is the Hooks[P] of Register, read back only as that type.
// Package initialisation writes it before anything reads it, so it needs
// no lock.
var registered any

// Register makes h the hooks Lookup returns. Package sdk calls it once, from
// its init; a second call panics.
func Register[P any](h Hooks[P]) {
	if h.NewServer == nil || h.DecodeSpec == nil {
		panic("inprocess.Register: every hook must be set")
	}
	if registered != nil {
		panic("inprocess.Register: called twice")
	}
	registered = h
}

// Lookup returns the hooks registered for plugin type P. It panics when
// none are, or they are for another type: a mistake in sdk/, not in a
// plugin.
func Lookup[P any]() Hooks[P] {
	h, ok := registered.(Hooks[P])
	if !ok {
		panic(fmt.Sprintf("inprocess.Lookup: package sdk registered no hooks for %T (registered: %T)", *new(P), registered))
	}
	return h
}
