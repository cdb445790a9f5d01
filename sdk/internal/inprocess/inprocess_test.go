package inprocess

import (
	"strings"
	"testing"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

type plugin struct{}

func hooksOf[P any]() Hooks[P] {
	return Hooks[P]{
		NewServer:  func(P, Options) outputv1.OutputServiceServer { return nil },
		DecodeSpec: func([]byte, string, int, any) error { return nil },
	}
}

// panics returns the message of what f panicked with ("" if it did not).
func panics(f func()) (msg string) {
	defer func() {
		if r := recover(); r != nil {
			msg, _ = r.(string)
			if msg == "" {
				msg = "panic"
			}
		}
	}()
	f()
	return ""
}

// TestRegisterLookup: Lookup hands back the hooks registered for the same
// plugin type and refuses any other; registering twice, or with a hook
// missing, is refused.
func TestRegisterLookup(t *testing.T) {
	tests := []struct {
		name string
		run  func()
		want string // "" no panic, else a substring of the panic
	}{
		{"nothing registered", func() { Lookup[plugin]() }, "registered no hooks for inprocess.plugin (registered: <nil>)"},
		{"the registered type", func() { Register(hooksOf[plugin]()); Lookup[plugin]() }, ""},
		{"another type", func() { Register(hooksOf[plugin]()); Lookup[*plugin]() }, "registered no hooks for *inprocess.plugin (registered: inprocess.Hooks["},
		{"twice", func() { Register(hooksOf[plugin]()); Register(hooksOf[plugin]()) }, "called twice"},
		{"a hook missing", func() { Register(Hooks[plugin]{}) }, "every hook must be set"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			registered = nil
			t.Cleanup(func() { registered = nil })
			got := panics(tt.run)
			if tt.want == "" && got != "" || tt.want != "" && !strings.Contains(got, tt.want) {
				t.Errorf("panic %q, want %q", got, tt.want)
			}
		})
	}
}
