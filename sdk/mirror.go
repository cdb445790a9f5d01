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

// groupState is one group in the mirror. Writers (the stream goroutine)
// change members under mu and drop the cached view; readers use the cached
// view and rebuild it under mu when it was dropped. A view is never
// modified after it is published, so readers may keep it as long as they
// like.
type groupState struct {
	mu      sync.Mutex
	members map[netip.Addr]time.Time
	view    atomic.Pointer[[]Member] // nil: stale
	ready   atomic.Bool
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
	var s []Member
	if len(g.members) > 0 {
		s = make([]Member, 0, len(g.members))
		for a, e := range g.members {
			s = append(s, Member{Addr: a, Expires: e})
		}
		slices.SortFunc(s, func(a, b Member) int { return a.Addr.Compare(b.Addr) })
	}
	g.view.Store(&s)
	return s
}

// set stores a member and reports whether it was new.
func (g *groupState) set(a netip.Addr, expires time.Time) (added bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.members == nil {
		g.members = make(map[netip.Addr]time.Time)
	}
	old, had := g.members[a]
	if had && old.Equal(expires) {
		return false
	}
	g.members[a] = expires
	g.view.Store(nil)
	return !had
}

// remove deletes a member and returns it if it was there.
func (g *groupState) remove(a netip.Addr) (Member, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, had := g.members[a]
	if !had {
		return Member{}, false
	}
	delete(g.members, a)
	g.view.Store(nil)
	return Member{Addr: a, Expires: e}, true
}

func (g *groupState) lookup(a netip.Addr) (time.Time, bool) {
	g.mu.Lock()
	defer g.mu.Unlock()
	e, ok := g.members[a]
	return e, ok
}

// handler is one OnEvent registration.
type handler struct{ fn func(Event) }

// watcher is one Changed registration.
type watcher struct {
	groups []uint64 // sorted; empty: any group
	ch     chan struct{}
}

// mirrorImpl is the state behind Mirror. Only the SDK's stream goroutine
// writes (apply, replace); any goroutine reads.
type mirrorImpl struct {
	groups   atomic.Pointer[map[uint64]*groupState] // copy-on-write
	handlers atomic.Pointer[[]*handler]             // copy-on-write
	watchers atomic.Pointer[[]*watcher]             // copy-on-write

	mu      sync.Mutex    // serialises registrations and group-set changes
	known   []uint64      // groups the output hears about, sorted; nil: not configured
	readyCh chan struct{} // closed (and replaced) when a ready flag changes
}

func (m *mirrorImpl) group(id uint64) *groupState {
	if p := m.groups.Load(); p != nil {
		return (*p)[id]
	}
	return nil
}

// groupForWrite returns the group, adding it to the mirror when missing.
func (m *mirrorImpl) groupForWrite(id uint64) *groupState {
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

func (m *mirrorImpl) members(group uint64) []Member {
	if g := m.group(group); g != nil {
		return g.sorted()
	}
	return nil
}

func (m *mirrorImpl) ready(group uint64) bool {
	g := m.group(group)
	return g != nil && g.ready.Load()
}

func (m *mirrorImpl) setKnown(ids []uint64) {
	m.mu.Lock()
	defer m.mu.Unlock()
	m.known = slices.Sorted(slices.Values(ids))
	if m.known == nil {
		m.known = []uint64{}
	}
}

func (m *mirrorImpl) waitReady(ctx context.Context, groups []uint64) error {
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
			if !m.ready(id) {
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
func (m *mirrorImpl) readyChanged() {
	m.mu.Lock()
	defer m.mu.Unlock()
	if m.readyCh != nil {
		close(m.readyCh)
		m.readyCh = nil
	}
}

func (m *mirrorImpl) onEvent(fn func(Event)) func() {
	h := &handler{fn: fn}
	m.mu.Lock()
	defer m.mu.Unlock()
	var next []*handler
	if p := m.handlers.Load(); p != nil {
		next = slices.Clone(*p)
	}
	next = append(next, h)
	m.handlers.Store(&next)
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
func (m *mirrorImpl) dispatch(e Event) {
	if p := m.handlers.Load(); p != nil {
		for _, h := range *p {
			h.fn(e)
		}
	}
}

func (m *mirrorImpl) changed(groups []uint64) <-chan struct{} {
	w := &watcher{groups: slices.Sorted(slices.Values(groups)), ch: make(chan struct{}, 1)}
	m.mu.Lock()
	defer m.mu.Unlock()
	var next []*watcher
	if p := m.watchers.Load(); p != nil {
		next = slices.Clone(*p)
	}
	next = append(next, w)
	m.watchers.Store(&next)
	return w.ch
}

// notify signals the Changed channels watching any of the changed groups.
func (m *mirrorImpl) notify(changed []uint64) {
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
func (m *mirrorImpl) apply(e Event) (deliver Event, ok, changed bool) {
	switch e.Kind {
	case EventJoin:
		if m.groupForWrite(e.Group).set(e.Member.Addr, e.Member.Expires) {
			return e, true, true
		}
		// Already a member: the join only moved the expiry.
		return Event{}, false, false
	case EventLeave:
		g := m.group(e.Group)
		if g == nil {
			return Event{}, false, false
		}
		old, had := g.remove(e.Member.Addr)
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
		if _, had := g.lookup(e.Member.Addr); !had {
			// An expiry update for an address the mirror does not hold
			// would resurrect a member that left: ignore it.
			return Event{}, false, false
		}
		g.set(e.Member.Addr, e.Member.Expires)
		return e, true, false
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

// stagedGroup is one group of a snapshot being received.
type stagedGroup struct {
	ready   bool
	members map[netip.Addr]time.Time
}

// replace swaps in a complete snapshot and returns the events that turn the
// old mirror into the new one (per group, ascending: leaves, joins, ready),
// followed by EventResync, and the groups whose membership or ready flag
// changed.
func (m *mirrorImpl) replace(staged map[uint64]*stagedGroup) (events []Event, changed []uint64) {
	old := map[uint64]*groupState{}
	if p := m.groups.Load(); p != nil {
		old = *p
	}
	next := make(map[uint64]*groupState, len(staged))
	ids := slices.Collect(maps.Keys(staged))
	for id := range old {
		if _, ok := staged[id]; !ok {
			ids = append(ids, id)
		}
	}
	slices.Sort(ids)
	readyMoved := false
	for _, id := range ids {
		before := map[netip.Addr]time.Time{}
		wasReady := false
		if g := old[id]; g != nil {
			g.mu.Lock()
			before = maps.Clone(g.members)
			g.mu.Unlock()
			wasReady = g.ready.Load()
		}
		s := staged[id]
		if s == nil {
			s = &stagedGroup{}
		}
		diff := false
		for _, a := range slices.SortedFunc(maps.Keys(before), netip.Addr.Compare) {
			if _, stays := s.members[a]; !stays {
				events = append(events, Event{Kind: EventLeave, Group: id, Member: Member{Addr: a, Expires: before[a]}})
				diff = true
			}
		}
		for _, a := range slices.SortedFunc(maps.Keys(s.members), netip.Addr.Compare) {
			if _, was := before[a]; !was {
				events = append(events, Event{Kind: EventJoin, Group: id, Member: Member{Addr: a, Expires: s.members[a]}})
				diff = true
			}
		}
		if s.ready && !wasReady {
			events = append(events, Event{Kind: EventReady, Group: id})
		}
		if s.ready != wasReady {
			diff = true
			readyMoved = true
		}
		if diff {
			changed = append(changed, id)
		}
		if _, inSnapshot := staged[id]; inSnapshot {
			g := &groupState{members: s.members}
			g.ready.Store(s.ready)
			next[id] = g
		}
	}
	m.mu.Lock()
	m.groups.Store(&next)
	m.mu.Unlock()
	if readyMoved {
		m.readyChanged()
	}
	return append(events, Event{Kind: EventResync}), changed
}
