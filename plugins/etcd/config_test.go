package etcd

import (
	"slices"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestSpecDefaults(t *testing.T) {
	var sp spec
	sdktest.DecodeSpec(t, "endpoints: [127.0.0.1:2379]\n", &sp)
	s, err := sp.validate([]sdk.GroupInfo{{ID: 2}, {ID: 1}}, "host-a.example", sdktest.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != "/rgap/" || s.instance != "host-a.example" || s.leaseTTL != 10 || !s.allGroups || s.layout != "rgap" || s.tls {
		t.Errorf("defaults = %+v", s)
	}
	sdktest.DecodeSpec(t, "endpoints: [https://e:2379]\nlayout: skydns\nprefix: /dns\nmappings: {App.Example.COM.: {group: 1}}\n", &sp)
	s, err = sp.validate([]sdk.GroupInfo{{ID: 1}}, "h", sdktest.Errorf)
	if err != nil {
		t.Fatal(err)
	}
	if s.prefix != "/dns/" || !s.tls || !slices.Equal(s.groups, []uint64{1}) ||
		!slices.Equal(s.names, []nameMapping{{name: "app.example.com", group: 1, ttl: 10}}) {
		t.Errorf("skydns settings = %+v", s)
	}
}

func TestSpecDiagnostics(t *testing.T) {
	groups := []sdk.GroupInfo{{ID: 1000}}
	tests := []struct {
		name, spec string
		want       []sdktest.Diagnostic
	}{
		{"no endpoints", "instance: a\n", []sdktest.Diagnostic{{Key: "endpoints", Line: 1, Message: "required, at least one etcd client URL such as http://127.0.0.1:2379"}}},
		{"bad endpoints", "endpoints: [ftp://a:1, 'http://u:p@a:1', a, 'http://a:0']\n", []sdktest.Diagnostic{
			{Key: "endpoints[0]", Line: 1, Message: `"ftp://a:1": the scheme must be http or https`},
			{Key: "endpoints[1]", Line: 1, Message: `"http://u:p@a:1": only scheme, host and port are allowed (credentials go in username and password_file)`},
			{Key: "endpoints[2]", Line: 1, Message: `"a": want host:port`},
			{Key: "endpoints[3]", Line: 1, Message: `"http://a:0": want host:port with a port from 1 to 65535`},
		}},
		{"username without password file", "endpoints: [a:1]\nusername: rgap\n", []sdktest.Diagnostic{{Key: "password_file", Line: 1, Message: "required with username: the file holding its password"}}},
		{"cert without key", "endpoints: [a:1]\ncert_file: c.pem\n", []sdktest.Diagnostic{{Key: "cert_file", Line: 2, Message: "cert_file and key_file are given together (a client certificate and its key)"}}},
		{"lease ttl", "endpoints: [a:1]\nlease_ttl: 1500ms\n", []sdktest.Diagnostic{{Key: "lease_ttl", Line: 2, Message: "1.5s: must be whole seconds from 2s to 1h0m0s"}}},
		{"unknown group", "endpoints: [a:1]\ngroups: [1000, 5]\n", []sdktest.Diagnostic{{Key: "groups[1]", Line: 2, Message: "group 5 is not configured in the listener"}}},
		{"bad instance", "endpoints: [a:1]\ninstance: a/b\n", []sdktest.Diagnostic{{Key: "instance", Line: 2, Message: `"a/b": contains '/': only letters, digits, '.', '-' and '_' are allowed`}}},
		{"bad layout", "endpoints: [a:1]\nlayout: dns\n", []sdktest.Diagnostic{{Key: "layout", Line: 2, Message: `"dns": must be rgap or skydns`}}},
		{"mappings with rgap", "endpoints: [a:1]\nmappings: {a.example: {group: 1000}}\n", []sdktest.Diagnostic{{Key: "mappings", Line: 2, Message: "only with layout skydns (layout rgap publishes groups, see groups)"}}},
		{"skydns without mappings", "endpoints: [a:1]\nlayout: skydns\ngroups: [1000]\n", []sdktest.Diagnostic{
			{Key: "groups", Line: 3, Message: "only with layout rgap (layout skydns publishes the groups of its mappings)"},
			{Key: "mappings", Line: 1, Message: "required with layout skydns: at least one DNS name and its group"},
		}},
		{"skydns mapping problems", "endpoints: [a:1]\nlayout: skydns\nmappings:\n  a..example: {group: 1000}\n  b.example: {group: 7, ttl: 0.5s}\n  c.example: {}\n", []sdktest.Diagnostic{
			{Key: "mappings[\"a..example\"]", Line: 4, Message: `"a..example": every label must have 1 to 63 characters`},
			{Key: "mappings[\"b.example\"].group", Line: 5, Message: "group 7 is not configured in the listener"},
			{Key: "mappings[\"b.example\"].ttl", Line: 5, Message: "500ms: must be whole seconds from 1s to 24h"},
			{Key: "mappings[\"c.example\"].group", Line: 6, Message: "required, the id of the group that answers the name"},
		}},
		{"same name twice", "endpoints: [a:1]\nlayout: skydns\nmappings:\n  a.example: {group: 1000}\n  A.example.: {group: 1000}\n", []sdktest.Diagnostic{{Key: "mappings", Line: 3, Message: `"a.example" is mapped twice (names are not case-sensitive)`}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := sdktest.Validate(t, Plugin, tt.spec, groups...)
			if !slices.Equal(got, tt.want) {
				t.Errorf("diagnostics:\n%s\nwant:\n%s", join(got), join(tt.want))
			}
		})
	}
}

func join(ds []sdktest.Diagnostic) string {
	var b strings.Builder
	for _, d := range ds {
		b.WriteString(d.String() + "\n")
	}
	return b.String()
}
