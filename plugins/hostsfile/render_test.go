package hostsfile

import (
	"net/netip"
	"path/filepath"
	"strconv"
	"testing"

	"github.com/rgap-project/rgap/internal/golden"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

func TestRenderGolden(t *testing.T) {
	const base = "interval: 1s\nfilename: hosts\n"
	tests := []struct {
		name   string
		spec   string
		groups map[uint64][]string
	}{
		{
			name:   "empty_without_fallback",
			spec:   base + "mappings: [{group: 1, hostname: worker}]\n",
			groups: map[uint64][]string{},
		},
		{
			name:   "empty_with_fallback",
			spec:   base + "mappings: [{group: 1, hostname: worker, fallback_addresses: [5.6.7.8, 1.2.3.4, '2001:db8::9']}]\n",
			groups: map[uint64][]string{},
		},
		{
			name: "fallback_unused_when_members",
			spec: base + "mappings: [{group: 1, hostname: worker, fallback_addresses: [1.2.3.4]}]\n",
			groups: map[uint64][]string{
				1: {"10.0.0.1"},
			},
		},
		{
			name: "ipv4_ipv6_mix",
			spec: base + "mappings: [{group: 1, hostname: worker}]\n",
			groups: map[uint64][]string{
				// Unsorted, with an IPv4-mapped address and a duplicate of it.
				1: {"2001:db8::2", "10.0.0.20", "::ffff:10.0.0.3", "10.0.0.3", "2001:db8::1", "192.168.1.1"},
			},
		},
		{
			name: "one_address_several_ports",
			spec: base + "mappings: [{group: 1, hostname: worker}]\n",
			groups: map[uint64][]string{
				// Protocol v2 members: one address serving on two ports
				// is one line, next to a v1 member of the same address.
				1: {"10.0.0.1:8081", "10.0.0.2:8080", "10.0.0.1:8080", "10.0.0.1", "[2001:db8::1]:443", "[2001:db8::1]:80"},
			},
		},
		{
			name: "several_mappings",
			spec: base + `mappings:
  - {group: 2, hostname: db}
  - {group: 1, hostname: worker}
  - {group: 1, hostname: worker.example.com}
  - {group: 3, hostname: cache, fallback_addresses: ['::1']}
`,
			groups: map[uint64][]string{
				1: {"10.0.0.2", "10.0.0.1"},
				2: {"fd00::5"},
			},
		},
		{
			name: "prepend_append",
			spec: base + `mappings: [{group: 1, hostname: worker}]
prepend_lines: ["# Auto-generated hosts file", "", "127.0.0.1 localhost"]
append_lines: ["# End of auto-generated file"]
`,
			groups: map[uint64][]string{1: {"10.1.1.1"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s, err := parseSpec(t, tt.spec)
			if err != nil {
				t.Fatalf("validate: %v", err)
			}
			g := &sdktest.FakeGroups{}
			for id, addrs := range tt.groups {
				ms := make([]sdk.Member, len(addrs))
				for i, a := range addrs {
					if ap, err := netip.ParseAddrPort(a); err == nil {
						ms[i] = sdk.Member{Addr: ap.Addr(), Port: ap.Port(), Weight: 1}
					} else {
						ms[i] = sdk.Member{Addr: netip.MustParseAddr(a)}
					}
				}
				g.Set(id, true, ms...)
			}
			got := render(s, g)
			path := filepath.Join("testdata", "render", tt.name+".golden")
			golden.Check(t, path, "render", got)
		})
	}
}

// BenchmarkRender measures a render of a 64-member group, as done on every
// membership change.
func BenchmarkRender(b *testing.B) {
	var sp spec
	one := uint64(1)
	sp.Interval, sp.Filename = 1, "hosts"
	sp.Mappings = []mappingSpec{{Group: &one, Hostname: "worker"}}
	s, err := sp.validate(nil, sdktest.Errorf)
	if err != nil {
		b.Fatal(err)
	}
	g := &sdktest.FakeGroups{}
	var addrs []string
	for i := range 64 {
		addrs = append(addrs, "10.0.0."+strconv.Itoa(i))
	}
	g.SetAddrs(1, true, addrs...)
	b.ReportAllocs()
	for b.Loop() {
		render(s, g)
	}
}
