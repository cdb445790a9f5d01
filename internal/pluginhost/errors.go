package pluginhost

import (
	"errors"
	"fmt"
	"strings"

	"github.com/rgap-project/rgap/internal/pluginhost/pluginfile"
)

// Sentinel errors. Errors returned by this package wrap one of these (or one
// of package pluginfile's: ErrNotFound, ErrUnsafe, ErrPinMismatch, ErrBadPin,
// ErrBadKind) so callers can tell the reasons apart with errors.Is.
var (
	// ErrStart: the plugin process could not be started or did not complete
	// the go-plugin handshake (crash at start, wrong cookie, wrong protocol
	// version, garbage on stdout, start timeout).
	ErrStart = errors.New("plugin did not start")
	// ErrProtocolVersion: the plugin's GetInfo does not list our protocol
	// version.
	ErrProtocolVersion = errors.New("plugin does not speak our protocol version")
	// ErrInvalidSpec: the plugin reported diagnostics for the output's spec.
	ErrInvalidSpec = errors.New("invalid output spec")
	// ErrUnknownGroup: the plugin subscribed to a group that is not
	// configured.
	ErrUnknownGroup = errors.New("subscription to an unconfigured group")
	// ErrPinBuiltin: an output of a built-in kind carries a sha256 pin.
	// Built-in outputs run the listener's own executable image, so there
	// is no separate file a pin could protect.
	ErrPinBuiltin = errors.New("sha256 pin on a built-in output kind")
	// ErrHung: the plugin did not acknowledge a message within HangTimeout.
	ErrHung = errors.New("plugin hung")
	// ErrProtocol: the plugin broke the stream protocol (acknowledged a
	// message it was never sent).
	ErrProtocol = errors.New("plugin broke the stream protocol")
	// ErrDisconnected: the stream to the plugin ended (it crashed, was
	// killed, or exited).
	ErrDisconnected = errors.New("plugin connection lost")
	// ErrRunning: Run was called while a previous Run is still active.
	ErrRunning = errors.New("host is already running")
	// ErrNotRunning: Update was called while no Run is active.
	ErrNotRunning = errors.New("host is not running")
)

// Re-exported for callers that only import this package.
var (
	// ErrNotFound is pluginfile.ErrNotFound.
	ErrNotFound = pluginfile.ErrNotFound
	// ErrUnsafe is pluginfile.ErrUnsafe.
	ErrUnsafe = pluginfile.ErrUnsafe
	// ErrPinMismatch is pluginfile.ErrPinMismatch.
	ErrPinMismatch = pluginfile.ErrPinMismatch
)

// IsConfigError reports whether err comes from the configuration rather
// than from the system: an output spec its plugin rejected, an output kind
// that no built-in or plugin file serves, or a sha256 pin on a built-in
// kind (or a malformed kind or pin). Editing the file is what cures it; the
// listener exits with the status of a bad command line for it. A plugin
// that could not start, a refused plugin file or one whose digest does not
// match its pin are failures of the start, not of the file.
func IsConfigError(err error) bool {
	return errors.Is(err, ErrInvalidSpec) || errors.Is(err, ErrPinBuiltin) || errors.Is(err, pluginfile.ErrNotFound) ||
		errors.Is(err, pluginfile.ErrBadKind) || errors.Is(err, pluginfile.ErrBadPin)
}

// Diagnostic is one problem a plugin found in an output's spec.
type Diagnostic struct {
	// Key is the dotted key path inside the spec, e.g. "mappings[0].group".
	Key string
	// Line is the line in the configuration file (0 if unknown).
	Line int
	// Message describes the problem.
	Message string
}

// OutputError is an error about one configured output. It names the output
// (index, kind, configuration file and line) and carries the plugin's
// diagnostics when the plugin rejected the spec.
type OutputError struct {
	// Index, Kind, File and Line identify the output (see Output).
	Index int
	Kind  string
	File  string
	Line  int
	// Diagnostics are the plugin's findings about the spec, if any.
	Diagnostics []Diagnostic
	// Err is the cause; ErrInvalidSpec when Diagnostics is set.
	Err error
}

// Error formats the output's identity and cause on the first line and each
// diagnostic, with its file:line, on a line of its own.
func (e *OutputError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "output %d (kind %q)", e.Index, e.Kind)
	if e.File != "" {
		fmt.Fprintf(&b, " at %s", e.File)
		if e.Line > 0 {
			fmt.Fprintf(&b, ":%d", e.Line)
		}
	}
	fmt.Fprintf(&b, ": %v", e.Err)
	for _, d := range e.Diagnostics {
		b.WriteString("\n\t")
		if e.File != "" && d.Line > 0 {
			fmt.Fprintf(&b, "%s:%d: ", e.File, d.Line)
		} else if d.Line > 0 {
			fmt.Fprintf(&b, "line %d: ", d.Line)
		}
		if d.Key != "" {
			fmt.Fprintf(&b, "%s: ", d.Key)
		}
		b.WriteString(d.Message)
	}
	return b.String()
}

// Unwrap returns the cause.
func (e *OutputError) Unwrap() error { return e.Err }

func outputErr(o *Output, err error) *OutputError {
	var oe *OutputError
	if errors.As(err, &oe) {
		return oe
	}
	return &OutputError{Index: o.Index, Kind: o.Kind, File: o.File, Line: o.Line, Err: err}
}
