package golden

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// recorder is a testing.TB that records failures instead of failing.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

func (r *recorder) Fatalf(format string, args ...any) {
	r.Errorf(format, args...)
	panic(r) // stops Check like runtime.Goexit stops a test
}

// check runs Check against a recorder and returns its failures.
func check(t *testing.T, path string, got string) (failures []string) {
	r := &recorder{TB: t}
	defer func() {
		if p := recover(); p != nil && p != r {
			panic(p)
		}
		failures = r.failures
	}()
	Check(r, path, "output", []byte(got))
	return nil
}

func TestCheck(t *testing.T) {
	dir := t.TempDir()
	path := filepath.Join(dir, "a.golden")
	if err := os.WriteFile(path, []byte("one\n"), 0o600); err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name string
		path string
		got  string
		want string // part of the one failure; "" for none
	}{
		{"equal", path, "one\n", ""},
		{"different", path, "two\n", "output differs from " + path + "\n--- got:\ntwo\n--- want:\none\n"},
		{"missing file", filepath.Join(dir, "none.golden"), "one\n", "go test -update writes it"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := check(t, tt.path, tt.got)
			switch {
			case tt.want == "" && len(f) != 0:
				t.Errorf("failures %q, want none", f)
			case tt.want != "" && (len(f) != 1 || !strings.Contains(f[0], tt.want)):
				t.Errorf("failures %q, want one containing %q", f, tt.want)
			}
		})
	}
}

func TestCheckUpdateWrites(t *testing.T) {
	*update = true
	defer func() { *update = false }()
	path := filepath.Join(t.TempDir(), "new", "b.golden")
	if f := check(t, path, "three\n"); len(f) != 0 {
		t.Fatalf("failures %q with -update, want none", f)
	}
	if b, err := os.ReadFile(path); err != nil || string(b) != "three\n" {
		t.Errorf("golden file after -update: %q, %v; want %q", b, err, "three\n")
	}
}
