package sdk_test

import (
	"slices"
	"testing"

	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// Members are (address, port) with a weight, from the snapshot through
// joins, weight changes and leaves: two ports of one address are two
// members, Members sorts them by address then port, and a weight change
// (an expiry update) reaches the handler and the mirror.
func TestMembersCarryPortAndWeight(t *testing.T) {
	rec := newRecorder()
	p := recorderPlugin(rec)
	p.ExpiryUpdates = true
	h := sdktest.Start(t, p, "", sdk.GroupInfo{ID: 1})
	env := rec.waitEnv(t)
	m := func(a, port, weight int) sdk.Member {
		addr := []sdk.Member{{Addr: addr1}, {Addr: addr2}, {Addr: addr3}}[a].Addr
		return sdk.Member{Addr: addr, Port: uint16(port), Weight: uint16(weight), Expires: soon}
	}
	h.Snapshot(sdktest.GroupState{ID: 1, Ready: true, Members: []sdk.Member{m(1, 443, 5), m(0, 8080, 1), m(1, 80, 65535)}})
	h.Sync()
	want := []sdk.Member{m(0, 8080, 1), m(1, 80, 65535), m(1, 443, 5)}
	if got := env.Groups.Members(1); !slices.Equal(got, want) {
		t.Fatalf("Members after the snapshot = %v\nwant %v", got, want)
	}

	changed := env.Groups.Changed(1)
	fired := func() bool {
		select {
		case <-changed:
			return true
		default:
			return false
		}
	}
	h.UpdateMember(1, m(1, 80, 65535))
	h.Sync()
	if fired() {
		t.Error("Changed fired for an update that changed nothing")
	}
	h.Snapshot(sdktest.GroupState{ID: 1, Ready: true, Members: []sdk.Member{m(1, 443, 6), m(0, 8080, 1), m(1, 80, 65535)}})
	h.Sync()
	if !fired() {
		t.Error("Changed did not fire for a resync that changed a weight")
	}
	if got := env.Groups.Members(1); got[2].Weight != 6 {
		t.Errorf("after the resync, Members = %v, want weight 6 on port 443", got)
	}

	rec.take()
	h.JoinMember(1, m(0, 8081, 2))
	h.UpdateMember(1, m(1, 443, 7))
	h.LeaveMember(1, addr2, 80)
	h.Sync()
	wantEvents := []sdk.Event{
		{Kind: sdk.EventJoin, Group: 1, Member: m(0, 8081, 2)},
		{Kind: sdk.EventExpiry, Group: 1, Member: m(1, 443, 7)},
		{Kind: sdk.EventLeave, Group: 1, Member: m(1, 80, 65535)},
	}
	if got := rec.take(); !slices.Equal(got, wantEvents) {
		t.Fatalf("events = %v\nwant %v", got, wantEvents)
	}
	if !fired() {
		t.Error("Changed did not fire for a weight change")
	}
	want = []sdk.Member{m(0, 8080, 1), m(0, 8081, 2), m(1, 443, 7)}
	if got := env.Groups.Members(1); !slices.Equal(got, want) {
		t.Fatalf("Members after the events = %v\nwant %v", got, want)
	}
}
