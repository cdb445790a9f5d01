package command

import (
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestValidateDefaults(t *testing.T) {
	s, err := parseSpec(t, "group: 0\ncommand: [/bin/true]\n")
	if err != nil {
		t.Fatal(err)
	}
	want := settings{group: 0, argv: []string{"/bin/true"}, timeout: 0, attempts: 1, waitDelay: 100 * time.Millisecond}
	if s.group != want.group || !slices.Equal(s.argv, want.argv) || s.timeout != want.timeout ||
		s.attempts != want.attempts || s.waitDelay != want.waitDelay {
		t.Errorf("settings = %+v, want %+v", *s, want)
	}
}

func TestValidateFormat(t *testing.T) {
	for yaml, want := range map[string]format{
		"":                     formatAddress,
		"format: address":      formatAddress,
		"format: address_port": formatAddressPort,
		"format: json":         formatJSON,
	} {
		s, err := parseSpec(t, "group: 1\ncommand: [x]\n"+yaml+"\n")
		if err != nil {
			t.Fatalf("%q: %v", yaml, err)
		}
		if s.format != want {
			t.Errorf("%q: format %q, want %q", yaml, s.format, want)
		}
	}
}

func TestValidateValues(t *testing.T) {
	tests := []struct {
		yaml      string
		attempts  int
		waitDelay time.Duration
		timeout   time.Duration
	}{
		{"retries: 0", 1, 100 * time.Millisecond, 0},
		{"retries: 1", 1, 100 * time.Millisecond, 0},
		{"retries: 3", 3, 100 * time.Millisecond, 0},
		{"wait_delay: 0s", 1, 0, 0},
		{"wait_delay: 2s", 1, 2 * time.Second, 0},
		{"timeout: 5s", 1, 100 * time.Millisecond, 5 * time.Second},
		{"timeout: 0s", 1, 100 * time.Millisecond, 0},
	}
	for _, tt := range tests {
		t.Run(tt.yaml, func(t *testing.T) {
			s, err := parseSpec(t, "group: 1\ncommand: [x]\n"+tt.yaml+"\n")
			if err != nil {
				t.Fatal(err)
			}
			if s.attempts != tt.attempts || s.waitDelay != tt.waitDelay || s.timeout != tt.timeout {
				t.Errorf("attempts, wait_delay, timeout = %d, %v, %v; want %d, %v, %v",
					s.attempts, s.waitDelay, s.timeout, tt.attempts, tt.waitDelay, tt.timeout)
			}
		})
	}
}

// TestValidateDiagnostics checks, through the SDK, that every problem is
// reported with the key and line an operator must fix.
func TestValidateDiagnostics(t *testing.T) {
	type diag struct {
		key  string
		line int
		msg  string
	}
	tests := []struct {
		name, spec string
		want       []diag
	}{
		{"empty spec", "", []diag{{"group", 1, "required"}, {"command", 1, "required"}}},
		{"empty command", "group: 1\ncommand: []\n", []diag{{"command", 2, "required"}}},
		{"command not a list", "group: 1\ncommand: /bin/true\n", []diag{{"command", 2, "want a list"}}},
		{"empty program", "group: 1\ncommand: ['', a]\n", []diag{{"command[0]", 2, "the program must not be empty"}}},
		{"NUL argument", "group: 1\ncommand:\n  - x\n  - \"a\\0b\"\n", []diag{{"command[1]", 4, "NUL"}}},
		{"negative timeout", "group: 1\ncommand: [x]\ntimeout: -1s\n", []diag{{"timeout", 3, "-1s must not be negative"}}},
		{"timeout without unit", "group: 1\ncommand: [x]\ntimeout: 5\n", []diag{{"timeout", 3, "duration"}}},
		{"negative retries", "group: 1\ncommand: [x]\nretries: -2\n", []diag{{"retries", 3, "-2 must not be negative"}}},
		{"negative wait_delay", "group: 1\ncommand: [x]\nwait_delay: -5ms\n", []diag{{"wait_delay", 3, "-5ms must not be negative"}}},
		{"unknown key", "group: 1\ncommand: [x]\nretry: 2\n", []diag{{"retry", 3, "unknown key"}}},
		{"unknown format", "group: 1\ncommand: [x]\nformat: csv\n", []diag{{"format", 3, `"csv" is not one of address, address_port, json`}}},
		{"group not in listener", "group: 5\ncommand: [x]\n", []diag{{"", 0, "5"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdktest.Validate(t, Plugin, tt.spec, sdk.GroupInfo{ID: 1})
			if len(got) != len(tt.want) {
				t.Fatalf("diagnostics = %v, want %d", got, len(tt.want))
			}
			for i, w := range tt.want {
				g := got[i]
				if (w.key != "" && g.Key != w.key) || (w.line != 0 && g.Line != w.line) || !strings.Contains(g.Message, w.msg) {
					t.Errorf("diagnostic %d = %s; want key %q, line %d, message containing %q", i, g, w.key, w.line, w.msg)
				}
			}
		})
	}
}

// parseSpec decodes text the way the SDK does, then validates it.
func parseSpec(t *testing.T, text string) (*settings, error) {
	t.Helper()
	var sp spec
	sdktest.DecodeSpec(t, text, &sp)
	return sp.validate(nil, sdktest.Errorf)
}
