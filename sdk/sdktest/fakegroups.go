package sdktest

import (
	"net/netip"
	"slices"
	"sync"

	"github.com/rgap-project/rgap/sdk"
)

// FakeGroups is a hand-driven stand-in for the read side of *sdk.Mirror
// (Members, Ready, Changed), for unit tests of the code that reads group
// state: a renderer, a per-query responder, an Output's Run loop. Such code
// takes a small interface declared in the plugin's own package, which
// *sdk.Mirror satisfies in production; a test hands it a FakeGroups instead
// and changes the state with Set, SetAddrs and SetReady, without a stream,
// acknowledgements or timing of its own.
//
// The zero value is ready to use: every group is empty and not ready. All
// methods are safe for concurrent use, since the code under test usually
// reads from its own goroutine while the test writes.
type FakeGroups struct {
	mu       sync.RWMutex
	members  map[uint64][]sdk.Member
	ready    map[uint64]bool
	watchers []fakeWatcher
}

// fakeWatcher is one Changed channel and the groups it watches (nil: all).
type fakeWatcher struct {
	groups []uint64
	ch     chan struct{}
}

// Members returns the members of group exactly as last given to Set:
// same order, same addresses. Unlike *sdk.Mirror the fake neither sorts
// nor unmaps, so a test can hand the code an unsorted or IPv4-mapped list
// and check that it copes. As with the mirror, the slice is shared: do not
// modify it. Reading it does not allocate.
func (f *FakeGroups) Members(group uint64) []sdk.Member {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.members[group]
}

// Ready reports the ready flag last given to Set or SetReady.
func (f *FakeGroups) Ready(group uint64) bool {
	f.mu.RLock()
	defer f.mu.RUnlock()
	return f.ready[group]
}

// Changed returns a new channel (capacity 1) that receives a value, without
// blocking, after every Set or SetReady of one of the listed groups (any
// group when none are listed), like sdk.Mirror.Changed. It is signalled
// even when the call changed nothing, so a test can check that the code
// under test tolerates a wake-up without a change.
func (f *FakeGroups) Changed(groups ...uint64) <-chan struct{} {
	w := fakeWatcher{groups: slices.Clone(groups), ch: make(chan struct{}, 1)}
	f.mu.Lock()
	defer f.mu.Unlock()
	f.watchers = append(f.watchers, w)
	return w.ch
}

// Set replaces the state of group with ready and members (kept in the
// given order, see Members) and signals Changed.
func (f *FakeGroups) Set(group uint64, ready bool, members ...sdk.Member) {
	f.mu.Lock()
	if f.members == nil {
		f.members = map[uint64][]sdk.Member{}
	}
	f.members[group] = slices.Clone(members)
	f.setReadyLocked(group, ready)
	f.mu.Unlock()
	f.notify(group)
}

// SetAddrs is Set with members that have the given addresses (parsed with
// netip.MustParseAddr, so a typo in a test panics) and no expiry.
func (f *FakeGroups) SetAddrs(group uint64, ready bool, addrs ...string) {
	ms := make([]sdk.Member, len(addrs))
	for i, a := range addrs {
		ms[i] = sdk.Member{Addr: netip.MustParseAddr(a)}
	}
	f.Set(group, ready, ms...)
}

// SetReady sets the ready flag of group, keeping its members, and signals
// Changed.
func (f *FakeGroups) SetReady(group uint64, ready bool) {
	f.mu.Lock()
	f.setReadyLocked(group, ready)
	f.mu.Unlock()
	f.notify(group)
}

func (f *FakeGroups) setReadyLocked(group uint64, ready bool) {
	if f.ready == nil {
		f.ready = map[uint64]bool{}
	}
	f.ready[group] = ready
}

// notify signals every Changed channel that watches group.
func (f *FakeGroups) notify(group uint64) {
	f.mu.RLock()
	defer f.mu.RUnlock()
	for _, w := range f.watchers {
		if len(w.groups) > 0 && !slices.Contains(w.groups, group) {
			continue
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}
