package eventlog

import (
	"bytes"
	"net/netip"
	"slices"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

var groups = []sdk.GroupInfo{{ID: 1000}, {ID: 1001}, {ID: 2000}}

func changes(h *sdktest.Harness) []string {
	var out []string
	for _, e := range h.Logs() {
		if e.Message == "address joined" || e.Message == "address left" {
			out = append(out, e.Message+" "+e.Arg("group")+" "+e.Arg("address"))
		}
	}
	return out
}

func TestReadmeExamples(t *testing.T) {
	specs := sdktest.SpecsFromMarkdown(t, "README.md", "eventlog")
	tests := []struct {
		spec string
		want []string
	}{
		{specs[0], []string{"address joined 1000 10.0.0.1", "address joined 1001 2001:db8::1", "address left 1000 10.0.0.1"}},
		{specs[1], []string{"address joined 1000 10.0.0.1", "address joined 1001 2001:db8::1", "address joined 2000 10.9.9.9", "address left 1000 10.0.0.1"}},
	}
	if len(specs) != len(tests) {
		t.Fatalf("README has %d eventlog examples, want %d", len(specs), len(tests))
	}
	for _, tt := range tests {
		h := sdktest.Start(t, Plugin, tt.spec, groups...)
		exp := time.Now().Add(time.Minute)
		h.Join(1000, netip.MustParseAddr("10.0.0.1"), exp)
		h.Join(1001, netip.MustParseAddr("2001:db8::1"), exp)
		h.Join(2000, netip.MustParseAddr("10.9.9.9"), exp)
		h.Ready(1000)
		h.Leave(1000, netip.MustParseAddr("10.0.0.1"))
		h.Sync()
		if got := changes(h); !slices.Equal(got, tt.want) {
			t.Errorf("spec %q logged %q, want %q", tt.spec, got, tt.want)
		}
		h.Stop()
	}
}

func TestAbsentSpecLogsEveryGroup(t *testing.T) {
	h := sdktest.Start(t, Plugin, "", groups...)
	if all, _ := h.Subscription(); !all {
		t.Fatal("an absent spec did not subscribe to every group")
	}
}

func TestResyncLogsDifferences(t *testing.T) {
	h := sdktest.Start(t, Plugin, "", groups...)
	exp := time.Now().Add(time.Minute)
	h.Join(1000, netip.MustParseAddr("10.0.0.1"), exp)
	h.Snapshot(sdktest.GroupState{ID: 1000, Members: []sdk.Member{{Addr: netip.MustParseAddr("10.0.0.2"), Expires: exp}}})
	h.Sync()
	want := []string{"address joined 1000 10.0.0.1", "address left 1000 10.0.0.1", "address joined 1000 10.0.0.2"}
	if got := changes(h); !slices.Equal(got, want) {
		t.Fatalf("logged %q, want %q", got, want)
	}
}

func TestUnknownGroupNamesTheEntry(t *testing.T) {
	got := sdktest.Validate(t, Plugin, "only_groups:\n  - 1000\n  - 77\n", groups...)
	want := []sdktest.Diagnostic{{Key: "only_groups[1]", Line: 3, Message: "group 77 is not configured in the listener"}}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics = %q, want %q", got, want)
	}
	got = sdktest.Validate(t, Plugin, "only_groups: 1000\n", groups...)
	want = []sdktest.Diagnostic{{Key: "only_groups", Line: 1, Message: "want a list, got integer 1000"}}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics = %q, want %q", got, want)
	}
}

// TestEveryUnknownGroupIsReported: an operator fixes all the entries at
// once, not one per attempt (plugins/README.md: report every problem).
func TestEveryUnknownGroupIsReported(t *testing.T) {
	got := sdktest.Validate(t, Plugin, "only_groups: [77, 1000, 78]\n", groups...)
	want := []sdktest.Diagnostic{
		{Key: "only_groups[0]", Line: 1, Message: "group 77 is not configured in the listener"},
		{Key: "only_groups[2]", Line: 1, Message: "group 78 is not configured in the listener"},
	}
	if !slices.Equal(got, want) {
		t.Fatalf("diagnostics = %q, want %q", got, want)
	}
}

// TestPortAndWeightFields: a member that announced a port and a weight
// (protocol v2) has them on its lines; a v1 member's line is unchanged.
func TestPortAndWeightFields(t *testing.T) {
	var buf bytes.Buffer
	o := &output{log: hclog.New(&hclog.LoggerOptions{Output: &buf, DisableTime: true})}
	a := netip.MustParseAddr("10.0.0.1")
	o.HandleEvent(sdk.Event{Kind: sdk.EventJoin, Group: 1000, Member: sdk.Member{Addr: a}})
	o.HandleEvent(sdk.Event{Kind: sdk.EventJoin, Group: 1000, Member: sdk.Member{Addr: a, Port: 8080, Weight: 10}})
	o.HandleEvent(sdk.Event{Kind: sdk.EventJoin, Group: 1000, Member: sdk.Member{Addr: a, Weight: 3}})
	o.HandleEvent(sdk.Event{Kind: sdk.EventLeave, Group: 1000, Member: sdk.Member{Addr: a, Port: 8080, Weight: 10}})
	want := "[INFO]  address joined: group=1000 address=10.0.0.1\n" +
		"[INFO]  address joined: group=1000 address=10.0.0.1 port=8080 weight=10\n" +
		"[INFO]  address joined: group=1000 address=10.0.0.1 weight=3\n" +
		"[INFO]  address left: group=1000 address=10.0.0.1 port=8080 weight=10\n"
	if got := buf.String(); got != want {
		t.Fatalf("logged\n%s\nwant\n%s", got, want)
	}
}
