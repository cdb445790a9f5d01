package haproxy

import (
	"slices"
	"testing"

	"github.com/rgap-project/rgap/sdk"
)

func cmdStrings(cmds []command) []string {
	var out []string
	for _, c := range cmds {
		out = append(out, c.String())
	}
	return out
}

// TestTargets: the member's port wins over the mapping's; weights are
// HAProxy's own up to 256, scaled beyond; no weight leaves HAProxy's alone.
func TestTargets(t *testing.T) {
	m := &mapping{port: 80}
	tests := []struct {
		name    string
		members []sdk.Member
		want    []target
	}{
		{"v1 members take the mapping's port", []sdk.Member{{Addr: ip("10.0.0.1")}},
			[]target{{ip("10.0.0.1"), 80, -1}}},
		{"announced port and weight", []sdk.Member{{Addr: ip("10.0.0.1"), Port: 8080, Weight: 10}, {Addr: ip("10.0.0.2"), Weight: 256}},
			[]target{{ip("10.0.0.1"), 8080, 10}, {ip("10.0.0.2"), 80, 256}}},
		{"weights beyond 256 keep their shares", []sdk.Member{{Addr: ip("10.0.0.1"), Weight: 1000}, {Addr: ip("10.0.0.2"), Weight: 500}, {Addr: ip("10.0.0.3"), Weight: 1}},
			[]target{{ip("10.0.0.1"), 80, 256}, {ip("10.0.0.2"), 80, 128}, {ip("10.0.0.3"), 80, 1}}},
		{"same address and port once", []sdk.Member{{Addr: ip("10.0.0.1")}, {Addr: ip("10.0.0.1"), Port: 80}, {Addr: ip("10.0.0.1"), Port: 81}},
			[]target{{ip("10.0.0.1"), 80, -1}, {ip("10.0.0.1"), 81, -1}}},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			if got := targets(m, tc.members); !slices.Equal(got, tc.want) {
				t.Errorf("got %v, want %v", got, tc.want)
			}
		})
	}
}

// TestPlanSlotsWeightAndDrift: a read that shows drift (wrong address,
// wrong weight, a free slot left ready) is corrected command by command, and
// a correct backend needs none.
func TestPlanSlotsWeightAndDrift(t *testing.T) {
	m := &mapping{backend: "be", prefix: "rgap"}
	st := newSlotTable()
	want := []target{{ip("10.0.0.1"), 8080, 5}}
	servers := []server{
		{name: "rgap1", addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1},
		{name: "rgap2", addr: "10.0.0.9", port: 80, admin: 0, weight: 1, iweight: 1},
	}
	cmds, waiting := st.planSlots(m, want, servers)
	wantCmds := []string{
		"set server be/rgap1 addr 10.0.0.1 port 8080",
		"set server be/rgap1 weight 5",
		"set server be/rgap1 state ready",
		"set server be/rgap2 state maint",
	}
	if !slices.Equal(cmdStrings(cmds), wantCmds) || waiting != 0 {
		t.Fatalf("got %q (waiting %d), want %q", cmdStrings(cmds), waiting, wantCmds)
	}
	for _, c := range cmds {
		for i := range servers {
			if servers[i].name == c.server {
				c.apply(&servers[i])
			}
		}
	}
	if cmds, _ := st.planSlots(m, want, servers); len(cmds) != 0 {
		t.Errorf("after the commands, still %q", cmdStrings(cmds))
	}
	// Without a port known, the template's port is kept.
	cmds, _ = newSlotTable().planSlots(m, []target{{ip("10.0.0.2"), 0, -1}}, []server{{name: "rgap1", addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1}})
	if got := cmdStrings(cmds); !slices.Equal(got, []string{"set server be/rgap1 addr 10.0.0.2", "set server be/rgap1 state ready"}) {
		t.Errorf("no port: %q", got)
	}
}

// TestIsSlot: only PREFIX followed by digits is a slot.
func TestIsSlot(t *testing.T) {
	for name, want := range map[string]bool{"rgap1": true, "rgap10": true, "rgap": false, "rgapx": false, "rgap+1": false, "rgap_1": false, "xrgap1": false} {
		if got := isSlot("rgap", name); got != want {
			t.Errorf("isSlot(rgap, %q) = %v, want %v", name, got, want)
		}
	}
}

// TestPlanDynamicDeleteBusy: a server of a member that left is put in
// maintenance and deleted; one already in maintenance is only deleted.
func TestPlanDynamicDeleteBusy(t *testing.T) {
	m := &mapping{backend: "b", prefix: "rgap", port: 80, dynamic: true}
	cmds := planDynamic(m, nil, []server{
		{name: "rgap_10.0.0.1_80", addr: "10.0.0.1", port: 80, weight: 1, iweight: 1},
		{name: "rgap_10.0.0.2_80", addr: "10.0.0.2", port: 80, admin: 1, weight: 1, iweight: 1},
	})
	want := []string{"set server b/rgap_10.0.0.1_80 state maint", "del server b/rgap_10.0.0.1_80", "del server b/rgap_10.0.0.2_80"}
	if !slices.Equal(cmdStrings(cmds), want) {
		t.Errorf("got %q, want %q", cmdStrings(cmds), want)
	}
	if !cmds[1].busy("Server still has connections attached to it, cannot remove it.\n") {
		t.Error("a server with connections is not recognised as one to delete later")
	}
}

// TestSlotWeightBackToConfigured: a slot that a member with a weight held,
// taken by a member without one, gets the weight HAProxy's configuration
// gives it back, not the previous member's.
func TestSlotWeightBackToConfigured(t *testing.T) {
	m := &mapping{backend: "be", prefix: "rgap"}
	servers := []server{{name: "rgap1", addr: "10.0.0.1", port: 80, admin: 0, weight: 50, iweight: 3}}
	cmds, _ := newSlotTable().planSlots(m, []target{{ip("10.0.0.2"), 80, -1}}, servers)
	want := []string{"set server be/rgap1 addr 10.0.0.2 port 80", "set server be/rgap1 weight 3"}
	if got := cmdStrings(cmds); !slices.Equal(got, want) {
		t.Errorf("got %q, want %q", got, want)
	}
}

// TestSlotsAdoptWhatHAProxyHas: after a restart of the output (or the
// listener), members keep the slots HAProxy already gives them: nothing is
// shuffled, and a member whose slot was left in maintenance gets it back.
func TestSlotsAdoptWhatHAProxyHas(t *testing.T) {
	m := &mapping{backend: "be", prefix: "rgap"}
	servers := []server{
		{name: "rgap1", addr: "10.0.0.2", port: 80, admin: 0, weight: 1, iweight: 1},
		{name: "rgap2", addr: "10.0.0.1", port: 80, admin: 0, weight: 1, iweight: 1},
		{name: "rgap3", addr: "10.0.0.3", port: 80, admin: 1, weight: 1, iweight: 1},
		{name: "rgap4", addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1},
	}
	want := []target{{ip("10.0.0.1"), 80, -1}, {ip("10.0.0.2"), 80, -1}, {ip("10.0.0.3"), 80, -1}}
	cmds, _ := newSlotTable().planSlots(m, want, servers)
	if got := cmdStrings(cmds); !slices.Equal(got, []string{"set server be/rgap3 state ready"}) {
		t.Errorf("got %q, want only rgap3 made ready", got)
	}
}
