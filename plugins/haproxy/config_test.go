package haproxy

import (
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var listenerGroups = []sdk.GroupInfo{{ID: 1, Expire: time.Minute}, {ID: 2, Expire: time.Minute}}

func TestValidateAccepts(t *testing.T) {
	var sp spec
	sdktest.DecodeSpec(t, "socket: 127.0.0.1:9999\nmappings:\n  - group: 1\n    backend: be\n  - group: 2\n    backend: be\n    prefix: other\n    mode: dynamic\n    port: 81\n", &sp)
	s, err := sp.validate(listenerGroups, sdktest.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if s.network != "tcp" || s.interval != 5*time.Second || s.mappings[0].prefix != "rgap" || s.mappings[0].dynamic || !s.mappings[1].dynamic {
		t.Errorf("settings %+v", s)
	}
}

// TestValidateDiagnostics: every problem is reported, naming its key.
func TestValidateDiagnostics(t *testing.T) {
	tests := []struct {
		spec string
		want []string // substrings, one diagnostic each
	}{
		{"", []string{"socket: required", "mappings: required"}},
		{"socket: admin.sock\nmappings: [{group: 1, backend: be}]\n", []string{`socket: "admin.sock" is neither`}},
		{"socket: /s\nreconcile_interval: -1s\nmappings: [{group: 1, backend: be}]\n", []string{"reconcile_interval: must be greater than zero"}},
		{"socket: /s\nmappings: [{backend: be}]\n", []string{"mappings[0].group: required"}},
		{"socket: /s\nmappings: [{group: 7, backend: be}]\n", []string{"mappings[0].group: group 7 is not configured"}},
		{"socket: /s\nmappings: [{group: 1, backend: \"b e\"}]\n", []string{`mappings[0].backend: "b e": contains ' '`}},
		{"socket: /s\nmappings: [{group: 1, backend: be, mode: dynamic}]\n", []string{"mappings[0].port: required in mode dynamic"}},
		{"socket: /s\nmappings: [{group: 1, backend: be, mode: fancy}]\n", []string{`mappings[0].mode: "fancy"`}},
		{"socket: /s\nmappings: [{group: 1, backend: be, check: true}]\n", []string{"mappings[0].check: only for mode dynamic"}},
		{"socket: /s\nmappings: [{group: 1, backend: be}, {group: 2, backend: be}]\n", []string{"mappings[1].backend: backend \"be\" with prefix \"rgap\" is already filled by mappings[0]"}},
	}
	for _, tc := range tests {
		var sp spec
		sdktest.DecodeSpec(t, tc.spec, &sp)
		_, err := sp.validate(listenerGroups, sdktest.Errorf)
		if err == nil {
			t.Errorf("%q: accepted", tc.spec)
			continue
		}
		lines := strings.Split(err.Error(), "\n")
		if len(lines) != len(tc.want) {
			t.Errorf("%q: %d diagnostics %q, want %d", tc.spec, len(lines), lines, len(tc.want))
			continue
		}
		for i, w := range tc.want {
			if !strings.Contains(lines[i], w) {
				t.Errorf("%q: diagnostic %q, want it to contain %q", tc.spec, lines[i], w)
			}
		}
	}
}
