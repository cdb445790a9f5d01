package pluginhost

import (
	"errors"
	"path/filepath"
	"testing"

	"github.com/rgap-project/rgap/internal/golden"
)

// The text of a startup validation error, as an operator sees it.
func TestOutputErrorGolden(t *testing.T) {
	err := errors.Join(
		&OutputError{Index: 1, Kind: "dns", File: "/etc/rgap/listener.yaml", Line: 31, Err: ErrInvalidSpec,
			Diagnostics: []Diagnostic{
				{Key: "listen", Line: 33, Message: `address "1.2.3" is not host:port`},
				{Key: "mappings[0].group", Line: 36, Message: "group 9 is not configured"},
				{Message: "spec is empty"},
			}},
		&OutputError{Index: 2, Kind: "acme", File: "/etc/rgap/listener.yaml", Line: 40, Err: ErrPinBuiltin},
		&OutputError{Index: 3, Kind: "x", Err: ErrHung},
	)
	golden.Check(t, filepath.Join("testdata", "validation_errors.golden"), "error text", []byte(err.Error()+"\n"))
	if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, ErrPinBuiltin) {
		t.Error("joined error does not wrap its causes")
	}
}
