package pluginhost

import (
	"errors"
	"flag"
	"os"
	"path/filepath"
	"testing"
)

var update = flag.Bool("update", false, "rewrite golden files")

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
	got := []byte(err.Error() + "\n")
	path := filepath.Join("testdata", "validation_errors.golden")
	if *update {
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // a golden file committed with the sources, readable like them
			t.Fatal(err)
		}
	}
	want, err2 := os.ReadFile(path)
	if err2 != nil {
		t.Fatal(err2)
	}
	if string(got) != string(want) {
		t.Errorf("error text =\n%s\nwant\n%s", got, want)
	}
	if !errors.Is(err, ErrInvalidSpec) || !errors.Is(err, ErrPinBuiltin) {
		t.Error("joined error does not wrap its causes")
	}
}
