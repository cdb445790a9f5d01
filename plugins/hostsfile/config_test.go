package hostsfile

import (
	"net/netip"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// listenerGroups are the groups the fake listener has in validation tests.
var listenerGroups = []sdk.GroupInfo{{ID: 0}, {ID: 1}, {ID: 2}, {ID: 1000}}

func TestValidateAccepts(t *testing.T) {
	s, err := parseSpec(t, `
interval: 5s
filename: hosts
mappings:
  - group: 1000
    hostname: worker
    fallback_addresses: [1.2.3.4, "::ffff:5.6.7.8", "2001:db8::1"]
  - group: 0
    hostname: db_primary.internal-1.example
  - group: 1000
    hostname: worker.example.com
prepend_lines: ["# head"]
append_lines: ["# tail"]
`)
	if err != nil {
		t.Fatalf("validate: %v", err)
	}
	if s.interval != 5*time.Second || s.filename != "hosts" {
		t.Errorf("interval, filename = %v, %q", s.interval, s.filename)
	}
	wantFallback := []netip.Addr{
		netip.MustParseAddr("1.2.3.4"),
		netip.MustParseAddr("5.6.7.8"), // unmapped
		netip.MustParseAddr("2001:db8::1"),
	}
	if !slices.Equal(s.mappings[0].fallback, wantFallback) {
		t.Errorf("fallback = %v, want %v", s.mappings[0].fallback, wantFallback)
	}
	if got := s.groups(); !slices.Equal(got, []uint64{1000, 0}) {
		t.Errorf("groups() = %v, want [1000 0]", got)
	}
}

// TestValidateDiagnostics checks, through the SDK, that every problem is
// reported with the key and line an operator must fix.
func TestValidateDiagnostics(t *testing.T) {
	type diag struct {
		key  string
		line int
		msg  string // substring of the message
	}
	const ok = "interval: 1s\nfilename: f\n"
	tests := []struct {
		name, spec string
		want       []diag
	}{
		{"no interval", "filename: f\nmappings: [{group: 1, hostname: h}]\n",
			[]diag{{"interval", 1, "required, a duration greater than zero"}}},
		{"negative interval", "interval: -1s\nfilename: f\nmappings: [{group: 1, hostname: h}]\n",
			[]diag{{"interval", 1, "got -1s"}}},
		{"interval not a duration", "interval: 5\nfilename: f\nmappings: [{group: 1, hostname: h}]\n",
			[]diag{{"interval", 1, "duration"}}},
		{"no filename", "interval: 1s\nmappings: [{group: 1, hostname: h}]\n",
			[]diag{{"filename", 1, "required"}}},
		{"no mappings", ok, []diag{{"mappings", 1, "at least one"}}},
		{"unknown key", ok + "mappings: [{group: 1, hostname: h}]\nappend_line: [x]\n",
			[]diag{{"append_line", 4, "unknown key"}}},
		{"no group", ok + "mappings:\n  - hostname: h\n",
			[]diag{{"mappings[0].group", 4, "required"}}},
		{"group not in listener", ok + "mappings:\n  - group: 77\n    hostname: h\n",
			[]diag{{"", 0, "77"}}},
		{"bad hostnames", ok + `mappings:
  - group: 1
    hostname: "a b"
  - group: 1
    hostname: "a#b"
  - group: 1
    hostname: "a."
  - group: 1
    hostname: -a
  - group: 1
    hostname: 10.0.0.1
  - group: 1
`, []diag{
			{"mappings[0].hostname", 5, `label "a b" contains ' '`},
			{"mappings[1].hostname", 7, `contains '#'`},
			{"mappings[2].hostname", 9, "empty label"},
			{"mappings[3].hostname", 11, `label "-a" starts or ends with a hyphen`},
			{"mappings[4].hostname", 13, "is an IP address"},
			{"mappings[5].hostname", 14, "required"},
		}},
		{"long hostnames", ok + "mappings:\n  - {group: 1, hostname: " + strings.Repeat("a", 64) + "}\n  - {group: 1, hostname: " +
			strings.Repeat("abc.", 64) + "x}\n", []diag{
			{"mappings[0].hostname", 4, "longer than 63"},
			{"mappings[1].hostname", 5, "longer than 253"},
		}},
		{"bad fallback", ok + "mappings:\n  - group: 1\n    hostname: h\n    fallback_addresses:\n      - 1.2.3.4\n      - 300.1.1.1\n",
			[]diag{{"mappings[0].fallback_addresses[1]", 8, "IP address"}}},
		{"zoned fallback", ok + "mappings:\n  - group: 1\n    hostname: h\n    fallback_addresses: ['fe80::1%eth0']\n",
			[]diag{{"mappings[0].fallback_addresses[0]", 6, "zones"}}},
		{"multi-line extra lines", ok + "mappings: [{group: 1, hostname: h}]\nprepend_lines:\n  - a\n  - \"b\\nc\"\nappend_lines: [\"d\\re\"]\n",
			[]diag{{"prepend_lines[1]", 6, "single line"}, {"append_lines[0]", 7, "single line"}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdktest.Validate(t, Plugin, tt.spec, listenerGroups...)
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

// FuzzCheckHostname: an accepted hostname always forms exactly one field
// of a hosts file line, and is never an address.
func FuzzCheckHostname(f *testing.F) {
	for _, s := range []string{"worker", "a.b-c.d_e", "a b", "1.2.3.4", "::1", "x.", "-a", "a#b", "é"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, h string) {
		if checkHostname(h) != nil {
			return
		}
		fields := strings.Fields("10.0.0.1 " + h)
		if len(fields) != 2 || fields[1] != h || strings.ContainsAny(h, "#\x00") || len(h) > 253 {
			t.Fatalf("accepted hostname %q does not form one hosts file field", h)
		}
		if _, err := netip.ParseAddr(h); err == nil {
			t.Fatalf("accepted hostname %q is an address", h)
		}
	})
}

// parseSpec decodes text the way the SDK does, then validates it.
func parseSpec(t *testing.T, text string) (*settings, error) {
	t.Helper()
	var sp spec
	sdktest.DecodeSpec(t, text, &sp)
	return sp.validate(nil, sdktest.Errorf)
}
