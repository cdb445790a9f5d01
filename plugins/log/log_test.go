package log

import (
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var now = time.Unix(1_800_000_000, 0)

// manual builds the plugin with a clock stopped at now and a ticker the
// test drives.
func manual(ticks chan time.Time) sdk.Plugin {
	p := Plugin
	p.New = func(cfg *sdk.Config) (sdk.Output, error) {
		out, err := New(cfg)
		if err != nil {
			return nil, err
		}
		o := out.(*output)
		o.now = func() time.Time { return now }
		o.ticker = func(time.Duration) (<-chan time.Time, func()) { return ticks, func() {} }
		return o, nil
	}
	return p
}

func TestReadmeExample(t *testing.T) {
	for _, spec := range sdktest.SpecsFromMarkdown(t, "README.md", "log") {
		ticks := make(chan time.Time)
		h := sdktest.Start(t, manual(ticks), spec, sdk.GroupInfo{ID: 1000}, sdk.GroupInfo{ID: 2000})
		h.Join(1000, netip.MustParseAddr("10.0.0.2"), now.Add(3500*time.Millisecond))
		h.Join(1000, netip.MustParseAddr("10.0.0.1"), now.Add(13*time.Second))
		h.Ready(1000)
		h.Sync()
		ticks <- now
		line := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "group" && e.Arg("id") == "1000" })
		want := map[string]string{"ready": "true", "count": "2", "members": "10.0.0.1 (13s), 10.0.0.2 (4s)"}
		for k, v := range want {
			if got := line.Arg(k); got != v {
				t.Errorf("group 1000 line: %s = %q, want %q (line %s)", k, got, v, line)
			}
		}
		empty := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "group" && e.Arg("id") == "2000" })
		if empty.Arg("ready") != "false" || empty.Arg("count") != "0" || empty.Arg("members") != "" {
			t.Errorf("group 2000 line = %s, want not ready and empty", empty)
		}
		h.Stop()
	}
}

// TestRefreshedMemberShowsNewExpiry: a member whose agent keeps announcing
// must not be shown as about to expire.
func TestRefreshedMemberShowsNewExpiry(t *testing.T) {
	ticks := make(chan time.Time)
	h := sdktest.Start(t, manual(ticks), "interval: 1m\n", sdk.GroupInfo{ID: 1000})
	addr := netip.MustParseAddr("10.0.0.1")
	h.Join(1000, addr, now.Add(time.Second))
	h.Ready(1000)
	h.Expiry(1000, addr, now.Add(15*time.Second))
	h.Sync()
	ticks <- now
	line := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "group" && e.Arg("id") == "1000" })
	if got := line.Arg("members"); got != "10.0.0.1 (15s)" {
		t.Errorf("members = %q, want the refreshed expiry \"10.0.0.1 (15s)\"", got)
	}
	h.Stop()
}

func TestIntervalIsRequiredAndPositive(t *testing.T) {
	tests := []struct {
		spec string
		want []sdktest.Diagnostic
	}{
		{"", []sdktest.Diagnostic{{Key: "interval", Line: 1, Message: `required: the time between two dumps, e.g. "60s"`}}},
		{"\ninterval: -5s\n", []sdktest.Diagnostic{{Key: "interval", Line: 2, Message: "must be positive, got -5s"}}},
		{"interval: 60\n", []sdktest.Diagnostic{{Key: "interval", Line: 1, Message: `want a duration like "5s" or "1m30s", got integer 60`}}},
		{"interval: 1m\nevery: 2m\n", []sdktest.Diagnostic{{Key: "every", Line: 2, Message: "unknown key (valid keys here: interval)"}}},
	}
	for _, tt := range tests {
		if got := sdktest.Validate(t, Plugin, tt.spec); !slices.Equal(got, tt.want) {
			t.Errorf("Validate(%q) = %q, want %q", tt.spec, got, tt.want)
		}
	}
}

func TestFormatMembers(t *testing.T) {
	ms := []sdk.Member{
		{Addr: netip.MustParseAddr("2001:db8::1"), Expires: now.Add(time.Second)},
		{Addr: netip.MustParseAddr("10.0.0.9"), Expires: now.Add(-time.Second)},
	}
	if got, want := formatMembers(ms, now), "2001:db8::1 (1s), 10.0.0.9 (0s)"; got != want {
		t.Fatalf("formatMembers = %q, want %q", got, want)
	}
}

// TestDumpsTheGroupsOfANewList: after a reload hands the running output a
// new group list, the dump covers the groups configured now: an added
// group is dumped, a removed one no longer is.
func TestDumpsTheGroupsOfANewList(t *testing.T) {
	ticks := make(chan time.Time)
	h := sdktest.Start(t, manual(ticks), "interval: 1m\n", sdk.GroupInfo{ID: 1000})
	h.UpdateGroups([]sdk.GroupInfo{{ID: 2000}},
		sdktest.GroupState{ID: 2000, Ready: true, Members: []sdk.Member{{Addr: netip.MustParseAddr("10.0.0.1"), Expires: now.Add(5 * time.Second)}}})
	h.Sync()
	ticks <- now
	line := h.WaitLog(func(e sdktest.LogEntry) bool { return e.Message == "group" && e.Arg("id") == "2000" })
	if got := line.Arg("members"); got != "10.0.0.1 (5s)" {
		t.Errorf("group 2000 members = %q, want \"10.0.0.1 (5s)\"", got)
	}
	for _, e := range h.Logs() {
		if e.Message == "group" && e.Arg("id") == "1000" {
			t.Errorf("removed group 1000 still dumped: %s", e)
		}
	}
	h.Stop()
}

// TestFormatMembersPortsAndWeights: members of protocol v2 agents show the
// port and the weight they announced; v1 members look as they always did.
func TestFormatMembersPortsAndWeights(t *testing.T) {
	tests := []struct {
		m    sdk.Member
		want string
	}{
		{sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Expires: now.Add(13 * time.Second)}, "10.0.0.1 (13s)"},
		{sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080, Expires: now.Add(13 * time.Second)}, "10.0.0.1:8080 (13s)"},
		{sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Port: 8080, Weight: 5, Expires: now.Add(13 * time.Second)}, "10.0.0.1:8080 (13s, weight 5)"},
		{sdk.Member{Addr: netip.MustParseAddr("10.0.0.1"), Weight: 65535, Expires: now}, "10.0.0.1 (0s, weight 65535)"},
		{sdk.Member{Addr: netip.MustParseAddr("2001:db8::1"), Port: 443, Expires: now.Add(time.Second)}, "[2001:db8::1]:443 (1s)"},
	}
	for _, tc := range tests {
		if got := formatMembers([]sdk.Member{tc.m}, now); got != tc.want {
			t.Errorf("formatMembers(%+v) = %q, want %q", tc.m, got, tc.want)
		}
	}
	two := []sdk.Member{tests[2].m, {Addr: netip.MustParseAddr("10.0.0.1"), Port: 8081, Expires: now.Add(4 * time.Second)}}
	if got, want := formatMembers(two, now), "10.0.0.1:8080 (13s, weight 5), 10.0.0.1:8081 (4s)"; got != want {
		t.Errorf("one address on two ports: %q, want %q", got, want)
	}
}
