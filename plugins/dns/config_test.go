package dns

import (
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestValidateNormalizes(t *testing.T) {
	set, err := decodeSpec(t, `
bind_address: ":8253"
mappings:
  WWW.Example.COM:
    group: 2
    fallback_addresses: ["::ffff:192.0.2.1", "2001:DB8::1"]
  api.example.com.:
    group: 1
  other.example.com:
    group: 2
`)
	if err != nil {
		t.Fatal(err)
	}
	if got := slices.Sorted(func(yield func(string) bool) {
		for k := range set.names {
			if !yield(k) {
				return
			}
		}
	}); !slices.Equal(got, []string{"api.example.com.", "other.example.com.", "www.example.com."}) {
		t.Errorf("names %v, want lowercase fully qualified", got)
	}
	if want := []netip.Addr{netip.MustParseAddr("192.0.2.1"), netip.MustParseAddr("2001:db8::1")}; !slices.Equal(set.names["www.example.com."].fallback, want) {
		t.Errorf("fallbacks %v, want %v (IPv4-mapped unmapped)", set.names["www.example.com."].fallback, want)
	}
	if !slices.Equal(set.groupIDs, []uint64{1, 2}) {
		t.Errorf("subscribed groups %v, want [1 2]", set.groupIDs)
	}
	if !set.authoritative || set.compress || set.logQueries {
		t.Errorf("defaults: authoritative %v compress %v log_queries %v, want true false false", set.authoritative, set.compress, set.logQueries)
	}
}

func TestValidateOptions(t *testing.T) {
	set, err := decodeSpec(t, `
bind_address: 127.0.0.1:53
mappings: {a.example.: {group: 1}}
compress: true
authoritative: false
log_queries: true
`)
	if err != nil {
		t.Fatal(err)
	}
	if set.authoritative || !set.compress || !set.logQueries || set.bind != "127.0.0.1:53" {
		t.Errorf("got %+v", set)
	}
}

// TestValidateDiagnostics checks what an operator sees for a bad spec: the
// key, the line in the file and the reason, through the real SDK decoding.
func TestValidateDiagnostics(t *testing.T) {
	groups := []sdk.GroupInfo{{ID: 1000}, {ID: 1001}}
	tests := []struct {
		name string
		spec string
		want []diag
	}{
		{
			name: "missing bind_address",
			spec: "mappings:\n  a.example.com: {group: 1000}\n",
			want: []diag{{0, `bind_address: required`}},
		},
		{
			name: "bind_address without port",
			spec: "bind_address: 127.0.0.1\nmappings:\n  a.example.com: {group: 1000}\n",
			want: []diag{{1, `bind_address: "127.0.0.1" is not host:port`}},
		},
		{
			name: "bind_address with a named port",
			spec: "bind_address: :domain\nmappings:\n  a.example.com: {group: 1000}\n",
			want: []diag{{1, `bind_address: ":domain": port "domain" is not a number`}},
		},
		{
			name: "no mappings",
			spec: "bind_address: :8253\n",
			want: []diag{{0, `mappings: at least one name is required`}},
		},
		{
			name: "unknown key",
			spec: "bind_address: :8253\nmappings:\n  a.example.com: {group: 1000}\nttl: 5\n",
			want: []diag{{4, `ttl: unknown key`}},
		},
		{
			name: "unknown key inside a mapping",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 1000\n    fallback: [1.2.3.4]\n",
			want: []diag{{5, `mappings["a.example.com"].fallback: unknown key`}},
		},
		{
			name: "group missing",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    fallback_addresses: [1.2.3.4]\n",
			want: []diag{{3, `mappings["a.example.com"].group: required`}},
		},
		{
			name: "group not configured",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 7\n",
			want: []diag{{4, `mappings["a.example.com"].group: group 7 is not configured in the listener`}},
		},
		{
			name: "group not a number",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: one\n",
			want: []diag{{4, `mappings["a.example.com"].group:`}},
		},
		{
			name: "bad fallback address",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 1000\n    fallback_addresses:\n      - 1.2.3.4\n      - 1.2.3\n",
			want: []diag{{7, `mappings["a.example.com"].fallback_addresses[1]: "1.2.3" is not an IP address`}},
		},
		{
			name: "fallback address with a zone",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 1000\n    fallback_addresses: [\"fe80::1%eth0\"]\n",
			want: []diag{{0, `mappings["a.example.com"].fallback_addresses[0]: "fe80::1%eth0" has a zone`}},
		},
		{
			name: "port 0",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 1000\n    port: 0\n",
			want: []diag{{5, `mappings["a.example.com"].port: must be 1 to 65535`}},
		},
		{
			name: "port out of range",
			spec: "bind_address: :8253\nmappings:\n  a.example.com:\n    group: 1000\n    port: 65536\n",
			want: []diag{{5, `mappings["a.example.com"].port:`}},
		},
		{
			name: "wildcard name",
			spec: "bind_address: :8253\nmappings:\n  \"*.example.com\": {group: 1000}\n",
			want: []diag{{3, `mappings["*.example.com"]: "*.example.com": wildcards are not supported`}},
		},
		{
			name: "label too long",
			spec: "bind_address: :8253\nmappings:\n  " + strings.Repeat("a", 64) + ".example.com: {group: 1000}\n",
			want: []diag{{0, `not a valid domain name`}},
		},
		{
			name: "empty label",
			spec: "bind_address: :8253\nmappings:\n  a..example.com: {group: 1000}\n",
			want: []diag{{0, `mappings["a..example.com"]: "a..example.com": not a valid domain name`}},
		},
		{
			name: "non-ASCII name",
			spec: "bind_address: :8253\nmappings:\n  bücher.example: {group: 1000}\n",
			want: []diag{{0, `xn--`}},
		},
		{
			name: "two spellings of one name",
			spec: "bind_address: :8253\nmappings:\n  a.example.com: {group: 1000}\n  A.Example.Com.: {group: 1001}\n",
			want: []diag{{0, `mappings["a.example.com"]: same name as mapping "A.Example.Com." once normalized (a.example.com.)`}},
		},
		{
			name: "every problem is reported",
			spec: "bind_address: nope\nmappings:\n  a.example.com: {group: 9}\n  b.example.com: {group: 1000, fallback_addresses: [x]}\n",
			want: []diag{
				{1, `bind_address: "nope" is not host:port`},
				{3, `mappings["a.example.com"].group: group 9`},
				{4, `mappings["b.example.com"].fallback_addresses[0]: "x" is not an IP address`},
			},
		},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			diags := sdktest.Validate(t, Plugin, tc.spec, groups...)
			var got []string
			for _, d := range diags {
				got = append(got, d.String())
			}
			if len(diags) != len(tc.want) {
				t.Fatalf("diagnostics %q, want %d like %v", got, len(tc.want), tc.want)
			}
			for i, want := range tc.want {
				d := diags[i]
				if !strings.Contains(d.Key+": "+d.Message, want.text) {
					t.Errorf("diagnostic %d is %q, want it to hold %q", i, d, want.text)
				}
				if want.line != 0 && d.Line != want.line {
					t.Errorf("diagnostic %d is at line %d, want %d: %s", i, d.Line, want.line, d)
				}
			}
		})
	}
}

// diag is an expected diagnostic: its line (0: not checked) and a part of
// "key: message".
type diag struct {
	line int
	text string
}

// The listener learns the addresses a dns output binds, UDP and TCP on
// bind_address as written, so that it can refuse a clash before starting.
func TestBinds(t *testing.T) {
	for _, addr := range []string{"127.0.0.1:8253", ":53", "[::1]:5353", "localhost:0"} {
		got := sdktest.Binds(t, Plugin, "bind_address: \""+addr+"\"\nmappings:\n  a.example.com: {group: 1000}\n", sdk.GroupInfo{ID: 1000})
		want := []sdk.Bind{{Network: "udp", Address: addr}, {Network: "tcp", Address: addr}}
		if !slices.Equal(got, want) {
			t.Errorf("bind_address %s: binds = %v, want %v", addr, got, want)
		}
	}
}
