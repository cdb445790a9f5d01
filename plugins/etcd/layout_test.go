package etcd

import (
	"flag"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var update = flag.Bool("update", false, "rewrite golden files under testdata/")

// renderMembers is what the golden files render: v1 and v2 members, IPv4
// and IPv6, with and without expiry.
var renderMembers = []sdk.Member{
	{Addr: netip.MustParseAddr("10.0.0.1"), Expires: time.Date(2026, 12, 3, 10, 0, 5, 250e6, time.UTC)},
	{Addr: netip.MustParseAddr("10.0.0.2"), Port: 8080, Weight: 10, Expires: time.Date(2026, 12, 3, 10, 0, 6, 0, time.UTC)},
	{Addr: netip.MustParseAddr("2001:db8::1")},
	{Addr: netip.MustParseAddr("2001:db8::2"), Port: 443, Weight: 1},
}

func TestRenderGolden(t *testing.T) {
	tests := []struct{ name, spec string }{
		{"rgap", "endpoints: [a:1]\ninstance: lb-1.example\n"},
		{"rgap-prefix", "endpoints: [a:1]\ninstance: lb1\nprefix: /services/rgap\n"},
		{"skydns", "endpoints: [a:1]\ninstance: lb1\nlayout: skydns\nmappings:\n  App.Example.com.: {group: 7}\n  other.example.com: {group: 7, ttl: 30s}\n  unrelated.example.com: {group: 8}\n"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var sp spec
			sdktest.DecodeSpec(t, tt.spec, &sp)
			s, err := sp.validate([]sdk.GroupInfo{{ID: 7}, {ID: 8}}, "host", sdktest.Errorf)
			if err != nil {
				t.Fatal(err)
			}
			l := newLayout(s)
			kvs := l.ready(nil, 7)
			for _, m := range renderMembers {
				kvs = l.member(kvs, 7, m)
			}
			var b strings.Builder
			for _, x := range kvs {
				g, ok := l.owned(x.key)
				if !ok || g != 7 {
					t.Errorf("owned(%q) = %d, %v; want 7, true", x.key, g, ok)
				}
				b.WriteString(x.key + " " + x.value + "\n")
			}
			golden := filepath.Join("testdata", tt.name+".golden")
			if *update {
				if err := os.WriteFile(golden, []byte(b.String()), 0o644); err != nil { //nolint:gosec // a golden file in the repository
					t.Fatal(err)
				}
			}
			want, err := os.ReadFile(golden)
			if err != nil {
				t.Fatal(err)
			}
			if b.String() != string(want) {
				t.Errorf("rendered:\n%s\nwant (%s):\n%s", b.String(), golden, want)
			}
		})
	}
}

func TestOwned(t *testing.T) {
	var sp spec
	sdktest.DecodeSpec(t, "endpoints: [a:1]\ninstance: lb-1\n", &sp)
	s, _ := sp.validate([]sdk.GroupInfo{{ID: 7}}, "h", sdktest.Errorf)
	rg := newLayout(s)
	sdktest.DecodeSpec(t, "endpoints: [a:1]\ninstance: lb-1\nlayout: skydns\nmappings: {a.example: {group: 7}, b.a.example: {group: 7}}\n", &sp)
	s, _ = sp.validate([]sdk.GroupInfo{{ID: 7}}, "h", sdktest.Errorf)
	sky := newLayout(s)
	tests := []struct {
		l    layout
		key  string
		want bool
	}{
		{rg, "/rgap/groups/7/members/lb-1/10.0.0.1", true},
		{rg, "/rgap/groups/7/ready/lb-1", true},
		{rg, "/rgap/groups/7/members/lb-10/10.0.0.1", false},
		{rg, "/rgap/groups/7/members/lb/10.0.0.1", false},
		{rg, "/rgap/groups/7/ready/lb-1/x", false},
		{rg, "/rgap/groups/x/ready/lb-1", false},
		{rg, "/rgap/groups/7/other/lb-1", false},
		{sky, "/skydns/example/a/lb-1-10.0.0.1", true},
		{sky, "/skydns/example/a/lb-1-[2001:db8::1]:80", true},
		{sky, "/skydns/example/a/lb-10.0.0.1", false},     // instance "lb"
		{sky, "/skydns/example/a/x-lb-1-10.0.0.1", false}, // instance "x-lb-1"
		{sky, "/skydns/example/a/b/lb-1-10.0.0.1", true},  // b.a.example's own key
		{sky, "/skydns/example/a/c/lb-1-10.0.0.1", false}, // a name not mapped
	}
	for _, tt := range tests {
		if _, got := tt.l.owned(tt.key); got != tt.want {
			t.Errorf("owned(%q) = %v, want %v", tt.key, got, tt.want)
		}
	}
}
