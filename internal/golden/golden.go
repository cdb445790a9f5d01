// Package golden compares test output with golden files under testdata/:
// one -update flag and one comparison for every package whose tests keep
// their expected output in files.
package golden

import (
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"testing"
)

// update is the -update flag of every test binary that imports this
// package: `go test ./pkg -update` rewrites the golden files instead of
// comparing with them.
var update = flag.Bool("update", false, "rewrite the golden files under testdata/ instead of comparing with them")

// Check fails t unless got equals the content of the golden file at path;
// what names the output in the message (e.g. "error text"). With -update it
// writes got to path instead, creating its directory, and passes.
func Check(t testing.TB, path, what string, got []byte) {
	t.Helper()
	if *update {
		if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil { //nolint:gosec // golden files are committed with the sources, readable like them
			t.Fatal(err)
		}
		if err := os.WriteFile(path, got, 0o644); err != nil { //nolint:gosec // golden files are committed with the sources, readable like them
			t.Fatal(err)
		}
		return
	}
	diff, err := compare(path, what, got)
	if err != nil {
		t.Fatalf("%v (go test -update writes it)", err)
	}
	if diff != "" {
		t.Error(diff)
	}
}

// compare returns "" when got equals the golden file at path, else a
// message that shows both; err is the failure to read the file.
func compare(path, what string, got []byte) (string, error) {
	want, err := os.ReadFile(path)
	if err != nil {
		return "", err
	}
	if string(got) == string(want) {
		return "", nil
	}
	return fmt.Sprintf("%s differs from %s\n--- got:\n%s--- want:\n%s", what, path, got, want), nil
}
