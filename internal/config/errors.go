package config

import (
	"cmp"
	"errors"
	"slices"
	"strconv"
	"strings"
)

// Sentinel errors. Every problem Parse reports is an *Error whose Err
// matches exactly one of these with errors.Is (problems with a PSK or a
// listen address additionally match the sentinels of internal/protocol and
// internal/netspec, whose errors they wrap).
var (
	// ErrSyntax means the file is not valid YAML.
	ErrSyntax = errors.New("invalid YAML")
	// ErrEmpty means the file holds no YAML document (or only a null one).
	ErrEmpty = errors.New("configuration is empty")
	// ErrMultipleDocuments means the file holds more than one YAML document.
	ErrMultipleDocuments = errors.New("multiple YAML documents")
	// ErrTooLarge means Load refused a file larger than MaxFileSize.
	ErrTooLarge = errors.New("configuration file too large")
	// ErrNotRegularFile means Load refused a path that is not a regular
	// file after following symbolic links (a directory, a named pipe, a
	// device, a socket), without reading from it.
	ErrNotRegularFile = errors.New("not a regular file")
	// ErrUnknownKey means a mapping the configuration defines holds a key it
	// does not know (usually a typo).
	ErrUnknownKey = errors.New("unknown key")
	// ErrMissingKey means a required key is absent or null.
	ErrMissingKey = errors.New("missing required key")
	// ErrDuplicate means a key, group id or listen address appears twice.
	ErrDuplicate = errors.New("duplicate")
	// ErrType means a value has the wrong YAML type (a list where a string
	// belongs, a word where a number belongs).
	ErrType = errors.New("wrong type")
	// ErrValue means a value has the right type but is not acceptable (a
	// negative duration, a malformed PSK or address, an unsafe plugin kind).
	ErrValue = errors.New("invalid value")
)

// Pos is a position in a configuration file. Line and Column count from 1;
// Column counts characters, as the YAML parser does. Zero fields are unknown.
type Pos struct {
	File         string
	Line, Column int
}

// String formats the position as "file:line:column", leaving out the parts
// that are unknown (zero), so a file-level problem reads "file".
func (p Pos) String() string {
	var b strings.Builder
	b.WriteString(p.File)
	if p.Line > 0 {
		b.WriteByte(':')
		b.WriteString(strconv.Itoa(p.Line))
		if p.Column > 0 {
			b.WriteByte(':')
			b.WriteString(strconv.Itoa(p.Column))
		}
	}
	return b.String()
}

// Error is one problem in a configuration file. Its text is
// "file:line:column: key.path: message", the key path being left out for
// problems that concern the file as a whole. Parse returns every Error it
// finds joined with errors.Join; use errors.As to pick them out.
type Error struct {
	// Pos is where the offending node starts.
	Pos Pos
	// Key is the path of the offending key, e.g. "groups[1].id" or
	// "listen[2]"; "" for the top level.
	Key string
	// Err describes the problem; it matches one of this package's
	// sentinels with errors.Is.
	Err error
}

// Error implements the error interface.
func (e *Error) Error() string {
	var b strings.Builder
	b.WriteString(e.Pos.String())
	b.WriteString(": ")
	if e.Key != "" {
		b.WriteString(e.Key)
		b.WriteString(": ")
	}
	b.WriteString(e.Err.Error())
	return b.String()
}

// Unwrap returns the problem description, so errors.Is sees the sentinel.
func (e *Error) Unwrap() error { return e.Err }

// problem is the Err of an Error: a human message that unwraps to a
// sentinel (which the message does not repeat, keeping error text short)
// and, optionally, to the cause reported by another package.
type problem struct {
	kind  error
	msg   string
	cause error
}

func (p *problem) Error() string {
	switch {
	case p.cause == nil:
		return p.msg
	case p.msg == "":
		return p.cause.Error()
	default:
		return p.msg + ": " + p.cause.Error()
	}
}

func (p *problem) Unwrap() []error {
	if p.cause == nil {
		return []error{p.kind}
	}
	return []error{p.kind, p.cause}
}

// joinSorted orders errs by position (stable for equal positions, so
// problems found at one node keep their discovery order) and joins them.
func joinSorted(errs []*Error) error {
	if len(errs) == 0 {
		return nil
	}
	slices.SortStableFunc(errs, func(a, b *Error) int {
		if c := cmp.Compare(a.Pos.Line, b.Pos.Line); c != 0 {
			return c
		}
		return cmp.Compare(a.Pos.Column, b.Pos.Column)
	})
	list := make([]error, len(errs))
	for i, e := range errs {
		list[i] = e
	}
	return errors.Join(list...)
}
