package sdk_test

import (
	"context"
	"errors"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
	"github.com/rgap-project/rgap/sdk"
	"github.com/rgap-project/rgap/sdk/sdktest"
)

// regrouper is a recorder that also takes new group lists.
type regrouper struct {
	*recorder
	mu     sync.Mutex
	lists  [][]sdk.GroupInfo
	refuse error
}

func (r *regrouper) UpdateGroups(groups []sdk.GroupInfo) error {
	r.mu.Lock()
	defer r.mu.Unlock()
	r.lists = append(r.lists, groups)
	return r.refuse
}

func (r *regrouper) takeLists() [][]sdk.GroupInfo {
	r.mu.Lock()
	defer r.mu.Unlock()
	l := r.lists
	r.lists = nil
	return l
}

func regrouperPlugin(r *regrouper) sdk.Plugin {
	p := recorderPlugin(r.recorder)
	p.New = func(*sdk.Config) (sdk.Output, error) { return r, nil }
	return p
}

func TestGetInfoAdvertisesGroupUpdates(t *testing.T) {
	c := rawClient(t, sdk.Plugin{Name: "x", New: func(*sdk.Config) (sdk.Output, error) { return nil, nil }})
	info, err := c.GetInfo(context.Background(), &outputv1.GetInfoRequest{})
	if err != nil {
		t.Fatal(err)
	}
	if !slices.Contains(info.GetCapabilities(), outputv1.Capability_CAPABILITY_GROUP_UPDATES) {
		t.Fatalf("GetInfo capabilities = %v, want CAPABILITY_GROUP_UPDATES", info.GetCapabilities())
	}
}

// TestNewGroupListWhileRunning: an output hearing about every group learns
// an added group from the snapshot that carries the new list: WaitReady
// accepts the new id, its members join, the members it already had do not
// join again, and a GroupsUpdater gets the list before the events.
func TestNewGroupListWhileRunning(t *testing.T) {
	r := &regrouper{recorder: newRecorder()}
	g1, g2 := sdk.GroupInfo{ID: 1, Expire: time.Minute}, sdk.GroupInfo{ID: 2, Expire: time.Minute}
	h := sdktest.Start(t, regrouperPlugin(r), "", g1)
	env := r.waitEnv(t)
	h.Join(1, addr1, soon)
	h.Ready(1)
	h.Sync()
	r.take()

	ctx, cancel := context.WithTimeout(context.Background(), time.Second)
	defer cancel()
	if err := env.Groups.WaitReady(ctx, 2); !errors.Is(err, sdk.ErrUnknownGroup) {
		t.Fatalf("WaitReady(2) before the new list = %v, want ErrUnknownGroup", err)
	}

	h.UpdateGroups([]sdk.GroupInfo{g1, g2},
		sdktest.GroupState{ID: 1, Ready: true, Members: []sdk.Member{{Addr: addr1, Expires: soon}}},
		sdktest.GroupState{ID: 2, Ready: true, Members: []sdk.Member{{Addr: addr2, Expires: soon}}},
	)
	h.Sync()
	want := []sdk.Event{
		{Kind: sdk.EventJoin, Group: 2, Member: sdk.Member{Addr: addr2, Expires: soon}},
		{Kind: sdk.EventReady, Group: 2},
		{Kind: sdk.EventResync},
	}
	if got := r.take(); !eventsEqual(got, want) {
		t.Fatalf("events after the new group list = %v\nwant %v", got, want)
	}
	if got := r.takeLists(); len(got) != 1 || !slices.Equal(got[0], []sdk.GroupInfo{g1, g2}) {
		t.Fatalf("UpdateGroups got %v, want one call with [1 2]", got)
	}
	if err := env.Groups.WaitReady(ctx, 2); err != nil {
		t.Fatalf("WaitReady(2) after the new list: %v", err)
	}
	if err := env.Groups.WaitReady(ctx); err != nil {
		t.Fatalf("WaitReady() after the new list: %v", err)
	}

	// Group 1 goes: its member leaves and WaitReady no longer knows it.
	h.UpdateGroups([]sdk.GroupInfo{g2},
		sdktest.GroupState{ID: 2, Ready: true, Members: []sdk.Member{{Addr: addr2, Expires: soon}}})
	h.Sync()
	want = []sdk.Event{
		{Kind: sdk.EventLeave, Group: 1, Member: sdk.Member{Addr: addr1, Expires: soon}},
		{Kind: sdk.EventResync},
	}
	if got := r.take(); !eventsEqual(got, want) {
		t.Fatalf("events after group 1 went = %v\nwant %v", got, want)
	}
	if err := env.Groups.WaitReady(ctx, 1); !errors.Is(err, sdk.ErrUnknownGroup) {
		t.Fatalf("WaitReady(1) after it went = %v, want ErrUnknownGroup", err)
	}
}

// TestNewGroupListLackingSubscribedGroup: a list without a group the
// output subscribed to ends the stream with an error naming the group.
func TestNewGroupListLackingSubscribedGroup(t *testing.T) {
	rec := newRecorder()
	h := sdktest.Start(t, recorderPlugin(rec), "groups: [1]", sdk.GroupInfo{ID: 1}, sdk.GroupInfo{ID: 2})
	rec.waitEnv(t)
	h.UpdateGroups([]sdk.GroupInfo{{ID: 2}})
	h.WaitLog(func(e sdktest.LogEntry) bool {
		return strings.Contains(e.Arg("error"), "lacks group 1")
	})
}

// TestGroupsUpdaterRefusal: an output that cannot take the list makes the
// plugin exit (the host then restarts it with the new list).
func TestGroupsUpdaterRefusal(t *testing.T) {
	r := &regrouper{recorder: newRecorder(), refuse: errors.New("cannot")}
	h := sdktest.Start(t, regrouperPlugin(r), "", sdk.GroupInfo{ID: 1})
	r.waitEnv(t)
	h.UpdateGroups([]sdk.GroupInfo{{ID: 1}, {ID: 2}})
	if err := h.WaitExit(); err == nil || !strings.Contains(err.Error(), "cannot take the new group list") {
		t.Fatalf("exit = %v, want the refusal", err)
	}
}
