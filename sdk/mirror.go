package sdk

import (
	"context"
	"fmt"
	"maps"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"
)

// groupState is one group in the mirror.
//
// Its members are a sorted slice (base) plus the changes made since
// (delta), rather than a map, because the two ways a group changes have
// opposite shapes: a snapshot brings the whole group at once, already
// sorted by the host, and storing it as base costs one slice and no
// hashing (a map of 100,000 members cost the plugin tens of milliseconds
// and megabytes of garbage on every restart); an event changes one member,
// which a small map takes in O(1). A reader merges delta into base when it
// needs a fresh view: one linear pass instead of sorting the whole group
// again. Without readers delta is never merged, but it stays bounded: it
// holds at most base's addresses plus the live members base lacks.
//
// Writers (the stream goroutine) change delta under mu and drop the cached
// view; readers use the cached view and rebuild it under mu when it was
// dropped. base and every view are never modified after they are stored,
// so readers may keep them as long as they like.
type groupState struct {
	mu    sync.Mutex
	base  []Member                  // sorted by address and port, no duplicates; immutable
	delta map[netip.AddrPort]change // changes since base was built
	view  atomic.Pointer[[]Member]  // nil: stale
	ready atomic.Bool
}

// change is one member's change since base was built.
type change struct {
	expires time.Time
	weight  uint16
	inBase  bool // the member is in base (a removal must hide it there)
	gone    bool // the member left; only kept for members in base
}

// key is a member's identity: its address and port.
func key(m Member) netip.AddrPort { return netip.AddrPortFrom(m.Addr, m.Port) }

// compareMembers orders members by address, then port.
func compareMembers(a, b Member) int { return key(a).Compare(key(b)) }

// searchMember finds k in the sorted members ms.
func searchMember(ms []Member, k netip.AddrPort) (int, bool) {
	return slices.BinarySearchFunc(ms, k, func(m Member, k netip.AddrPort) int { return key(m).Compare(k) })
}

// newGroupState returns a group holding members, which must be sorted by
// address and port without duplicates and are not modified afterwards.
func newGroupState(members []Member, ready bool) *groupState {
	g := &groupState{base: members}
	g.view.Store(&members)
	g.ready.Store(ready)
	return g
}

func (g *groupState) sorted() []Member {
	if p := g.view.Load(); p != nil {
		return *p
	}
	g.mu.Lock()
	defer g.mu.Unlock()
	if p := g.view.Load(); p != nil {
		return *p
	}
	g.compact()
	s := g.base
	g.view.Store(&s)
	return s
}

// compact merges delta into a new base. g.mu must be held.
func (g *groupState) compact() {
	if len(g.delta) == 0 {
		return
	}
	type entry struct {
		key netip.AddrPort
		change
	}
	changes := make([]entry, 0, len(g.delta))
	n := len(g.base)
	for k, c := range g.delta {
		changes = append(changes, entry{k, c})
		switch {
		case c.gone:
			n--
		case !c.inBase:
			n++
		}
	}
	slices.SortFunc(changes, func(x, y entry) int { return x.key.Compare(y.key) })
	var merged []Member
	if n > 0 {
		merged = make([]Member, 0, n)
	}
	base := g.base
	for _, c := range changes {
		// Copy the unchanged members before c in one go.
		i, found := searchMember(base, c.key)
		merged = append(merged, base[:i]...)
		if found {
			i++
		}
		base = base[i:]
		if !c.gone {
			merged = append(merged, Member{Addr: c.key.Addr(), Port: c.key.Port(), Weight: c.weight, Expires: c.expires})
		}
	}
	g.base = append(merged, base...)
	clear(g.delta)
}

// find returns the member with k's address and port, whether there is one
// and whether it is in base. g.mu must be held.
func (g *groupState) find(k netip.AddrPort) (m Member, member, inBase bool) {
	if c, ok := g.delta[k]; ok {
		return Member{Addr: k.Addr(), Port: k.Port(), Weight: c.weight, Expires: c.expires}, !c.gone, c.inBase
	}
	if i, ok := searchMember(g.base, k); ok {
		return g.base[i], true, true
	}
	return Member{}, false, false
}

// put records m in delta. g.mu must be held.
func (g *groupState) put(m Member, inBase bool) {
	if g.delta == nil {
		g.delta = make(map[netip.AddrPort]change)
	}
	g.delta[key(m)] = change{expires: m.Expires, weight: m.Weight, inBase: inBase}
	g.view.Store(nil)
}

// set stores a member and reports whether it was new.
func (g *groupState) set(m Member) (added bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, had, inBase := g.find(key(m))
	if had && old.Expires.Equal(m.Expires) && old.Weight == m.Weight {
		return false
	}
	g.put(m, inBase)
	return !had
}

// update moves a member's expiry and weight and reports whether it is a
// member (one that is not stays out) and whether its weight changed.
func (g *groupState) update(m Member) (member, reweighted bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	old, had, inBase := g.find(key(m))
	if !had {
		return false, false
	}
	if !old.Expires.Equal(m.Expires) || old.Weight != m.Weight {
		g.put(m, inBase)
	}
	return true, old.Weight != m.Weight
}

// remove deletes a member and returns it if it was there.
func (g *groupState) remove(k netip.AddrPort) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	m, had, inBase := g.find(k)
	if !had {
		return Member{}, false
	}
	if inBase {
		if g.delta == nil {
			g.delta = make(map[netip.AddrPort]change)
		}
		g.delta[k] = change{inBase: true, gone: true}
	} else {
		delete(g.delta, k)
	}
	g.view.Store(nil)
	return m, true
}

// handler is one OnEvent registration.
type handler struct{ fn func(Event) }

// watcher is one Changed registration.
type watcher struct {
	groups []uint64 // sorted; empty: any group
	ch     chan struct{}
}

// Mirror is the plugin-local copy of group state. All methods are safe for
// concurrent use. (Only the SDK's stream goroutine writes: apply, replace.)
type Mirror struct {
	groups   atomic.Pointer[map[uint64]*groupState] // copy-on-write
	handlers atomic.Pointer[[]*handler]             // copy-on-write
	watchers atomic.Pointer[[]*watcher]             // copy-on-write

	mu      sync.Mutex    // serialises registrations and group-set changes
	known   []uint64      // groups the output hears about, sorted; nil: not configured
	readyCh chan struct{} // closed (and replaced) when a ready flag changes
}

func (m *Mirror) group(id uint64) *groupState {
	if p := m.groups.Load(); p != nil {
		return (*p)[id]
	}
	return nil
}

// groupForWrite returns the group, adding it to the mirror when missing.
func (m *Mirror) groupForWrite(id uint64) *groupState {
	if g := m.group(id); g != nil {
		return g
	}
	m.mu.Lock()
	defer m.mu.Unlock()
	next := map[uint64]*groupState{}
	if p := m.groups.Load(); p != nil {
		next = maps.Clone(*p)
	}
	g := &groupState{}
	next[id] = g
	m.groups.Store(&next)
	return g
}

// Members returns the live members of a group, sorted by address, then
// port (see Member). The slice is shared and immutable: do not modify it.
// Reading it does not allocate, which makes it suitable for a per-query
// path.
func (m *Mirror) Members(group uint64) []Member {
	if g := m.group(group); g != nil {
		return g.sorted()
	}
	return nil
}

// Ready reports whether the group passed its readiness delay.
func (m *Mirror) Ready(group uint64) bool {
	g := m.group(group)
	return g != nil && g.ready.Load()
}

func (m *Mirror) setKnown(ids []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known = slices.Sorted(slices.Values(ids))
	if m.known == nil {
		m.known = []uint64{}
	}
}

// WaitReady blocks until every listed group is ready (all subscribed groups
// when none are listed) or ctx ends; the error then wraps ctx.Err() and
// names the groups still waiting. A group the output does not hear about
// is an error wrapping ErrUnknownGroup.
func (m *Mirror) WaitReady(ctx context.Context, groups ...uint64) error {
	m.mu.Lock()
	if len(groups) == 0 {
		groups = m.known
	} else if m.known != nil {
		for _, id := range groups {
			if _, ok := slices.BinarySearch(m.known, id); !ok {
				m.mu.Unlock()
				return fmt.Errorf("waiting for group %d: %w (or the output did not subscribe to it)", id, ErrUnknownGroup)
			}
		}
	}
	m.mu.Unlock()
	for {
		m.mu.Lock()
		if m.readyCh == nil {
			m.readyCh = make(chan struct{})
		}
		ch := m.readyCh
		m.mu.Unlock()
		var waiting []uint64
		for _, id := range groups {
			if !m.Ready(id) {
				waiting = append(waiting, id)
			}
		}
		if len(waiting) == 0 {
			return nil
		}
		select {
		case <-ch:
		case <-ctx.Done():
			return fmt.Errorf("waiting for groups %v to become ready: %w", waiting, ctx.Err())
		}
	}
}

// readyChanged wakes WaitReady callers.
func (m *Mirror) readyChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readyCh != nil {
		close(m.readyCh)
		m.readyCh = nil
	}
}

// OnEvent registers fn to be called, in order, for every event. Calls are
// made from the SDK's stream goroutine before the host is acknowledged, so a
// slow fn slows delivery (the host then coalesces updates into a snapshot)
// and a fn that never returns gets the plugin declared hung; a panicking fn
// makes the plugin exit (the host restarts it). fn sees events applied after
// OnEvent returned (see EventHandler to see them all). The returned func
// unregisters fn.
func (m *Mirror) OnEvent(fn func(Event)) (cancel func()) {
	h := &handler{fn: fn}
	m.mu.Lock()
	defer m.mu.Unlock()
	appendCopy(&m.handlers, h)
	return func() {
		m.mu.Lock()
		defer m.mu.Unlock()
		if p := m.handlers.Load(); p != nil {
			next := slices.DeleteFunc(slices.Clone(*p), func(x *handler) bool { return x == h })
			m.handlers.Store(&next)
		}
	}
}

// dispatch calls the OnEvent handlers in registration order.
func (m *Mirror) dispatch(e Event) {
	if p := m.handlers.Load(); p != nil {
		for _, h := range *p {
			h.fn(e)
		}
	}
}

// Changed returns a channel that receives a value (non-blocking, capacity 1)
// whenever the membership or the ready flag of one of the listed groups (any
// group when none are listed) changes, including by a resync, and when a
// member's weight changes. An expiry move alone does not signal it. It
// suits a worker that re-renders on change and collapses bursts: call
// Changed once, before the first render, and render again after each
// receive. Each call registers a new channel for the life of the process.
func (m *Mirror) Changed(groups ...uint64) <-chan struct{} {
	w := &watcher{groups: slices.Sorted(slices.Values(groups)), ch: make(chan struct{}, 1)}
	m.mu.Lock()
	defer m.mu.Unlock()
	appendCopy(&m.watchers, w)
	return w.ch
}

// appendCopy stores in p a copy of its slice with v appended, so that
// readers Load the slice without a lock. The caller serializes writers
// (Mirror.mu).
func appendCopy[T any](p *atomic.Pointer[[]T], v T) {
	var next []T
	if old := p.Load(); old != nil {
		next = slices.Clone(*old)
	}
	next = append(next, v)
	p.Store(&next)
}

// notify signals the Changed channels watching any of the changed groups.
func (m *Mirror) notify(changed []uint64) {
	if len(changed) == 0 {
		return
	}
	p := m.watchers.Load()
	if p == nil {
		return
	}
	for _, w := range *p {
		if len(w.groups) > 0 && !anyIn(changed, w.groups) {
			continue
		}
		select {
		case w.ch <- struct{}{}:
		default:
		}
	}
}

func anyIn(ids, sorted []uint64) bool {
	for _, id := range ids {
		if _, ok := slices.BinarySearch(sorted, id); ok {
			return true
		}
	}
	return false
}

// apply changes the mirror by one event from the host. It returns the
// event to deliver (ok false when the event changed nothing a handler must
// hear about) and whether the membership or ready flag changed.
func (m *Mirror) apply(e Event) (deliver Event, ok, changed bool) {
	switch e.Kind {
	case EventJoin:
		if m.groupForWrite(e.Group).set(e.Member) {
			return e, true, true
		}
		// Already a member: the join only moved the expiry or weight.
		return Event{}, false, false
	case EventLeave:
		g := m.group(e.Group)
		if g == nil {
			return Event{}, false, false
		}
		old, had := g.remove(key(e.Member))
		if !had {
			return Event{}, false, false
		}
		e.Member = old
		return e, true, true
	case EventExpiry:
		g := m.group(e.Group)
		if g == nil {
			return Event{}, false, false
		}
		member, reweighted := g.update(e.Member)
		if !member {
			// An expiry update for a member the mirror does not hold
			// would resurrect a member that left: ignore it.
			return Event{}, false, false
		}
		// A weight change is news to Changed watchers; an expiry alone
		// is not.
		return e, true, reweighted
	case EventReady:
		g := m.groupForWrite(e.Group)
		if g.ready.Swap(true) {
			return Event{}, false, false
		}
		m.readyChanged()
		return Event{Kind: EventReady, Group: e.Group}, true, true
	}
	return Event{}, false, false
}

// stagedGroup is one group of a complete snapshot, as replace takes it.
type stagedGroup struct {
	ready   bool
	members []Member // sorted by address without duplicates (see sortMembers)
}

// sortMembers sorts members by address and port in place and drops
// duplicates (of one address and port, the last in the input wins, as the
// later news). sorted says the caller saw them ascending already, as the
// host sends them, which makes this free.
func sortMembers(ms []Member, sorted bool) []Member {
	if sorted {
		return ms
	}
	slices.SortStableFunc(ms, compareMembers)
	out := ms[:0]
	for i, m := range ms {
		if i+1 < len(ms) && key(ms[i+1]) == key(m) {
			continue
		}
		out = append(out, m)
	}
	return slices.Clip(out)
}

// groupDiff is what a snapshot changed in one group, in the order handlers
// hear it: leaves, joins (each ascending by address), then ready.
type groupDiff struct {
	id     uint64
	leaves []Member
	joins  []Member // may share the group's new members: read only
	ready  bool     // the group became ready
}

// replace swaps in a complete snapshot and returns, in ascending group id
// order, the differences that turn the old mirror into the new one, and the
// groups whose membership or ready flag changed. Groups of the old mirror
// that the snapshot does not have are dropped (their members leave).
//
// Nothing here is per member but the walk over the members: the staged
// slices become the groups' members as they are, and a group that was
// empty (every group, on the first snapshot) needs no comparison at all,
// its joins are its members.
func (m *Mirror) replace(staged map[uint64]*stagedGroup) (diffs []groupDiff, changed []uint64) {
	var old map[uint64]*groupState
	if p := m.groups.Load(); p != nil {
		old = *p
	}
	next := make(map[uint64]*groupState, len(staged))
	ids := make([]uint64, 0, len(staged)+len(old))
	for id := range staged {
		ids = append(ids, id)
	}
	for id := range old {
		if _, ok := staged[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	readyMoved := false
	for _, id := range ids {
		var before []Member
		wasReady := false
		if g := old[id]; g != nil {
			before = g.sorted()
			wasReady = g.ready.Load()
		}
		var after []Member
		nowReady := false
		if s := staged[id]; s != nil {
			after = s.members
			nowReady = s.ready
			next[id] = newGroupState(after, nowReady)
		}
		d := groupDiff{id: id, ready: nowReady && !wasReady}
		reweighted := false
		if len(before) == 0 {
			d.joins = after
		} else {
			d.leaves, d.joins, reweighted = diffMembers(before, after)
		}
		if nowReady != wasReady {
			readyMoved = true
		}
		if len(d.leaves) > 0 || len(d.joins) > 0 || nowReady != wasReady || reweighted {
			changed = append(changed, id)
		}
		if len(d.leaves) > 0 || len(d.joins) > 0 || d.ready {
			diffs = append(diffs, d)
		}
	}
	m.mu.Lock()
	m.groups.Store(&next)
	m.mu.Unlock()
	if readyMoved {
		m.readyChanged()
	}
	return diffs, changed
}

// diffMembers walks two sorted member lists in step and returns the members
// only before has (leaves) and those only after has (joins), both sorted.
// A member (address and port) in both, whatever its expiry or weight, is
// neither; reweighted reports whether such a member's weight changed.
func diffMembers(before, after []Member) (leaves, joins []Member, reweighted bool) {
	i, j := 0, 0
	for i < len(before) && j < len(after) {
		switch c := compareMembers(before[i], after[j]); {
		case c < 0:
			leaves = append(leaves, before[i])
			i++
		case c > 0:
			joins = append(joins, after[j])
			j++
		default:
			reweighted = reweighted || before[i].Weight != after[j].Weight
			i++
			j++
		}
	}
	leaves = append(leaves, before[i:]...)
	joins = append(joins, after[j:]...)
	return leaves, joins, reweighted
}
