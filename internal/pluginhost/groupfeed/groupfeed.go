// Package groupfeed adapts the group registry (package group) to the
// pluginhost.Feed interface.
//
// Why an adapter instead of pluginhost importing group: pluginhost declares
// the small interface it consumes, so it is tested with a fake feed and
// built without the registry; the registry knows nothing of plugins. The
// cost is one copy of each event (a few words) and of each snapshot's
// member list, negligible next to encoding them for gRPC.
package groupfeed

import (
	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/pluginhost"
)

// Feed is a pluginhost.Feed backed by a group registry.
type Feed struct {
	reg *group.Registry
}

var _ pluginhost.Feed = Feed{}

// New returns a Feed reading from reg.
func New(reg *group.Registry) Feed { return Feed{reg: reg} }

// Subscribe implements pluginhost.Feed.
func (f Feed) Subscribe(filter func(group uint64) bool) pluginhost.Subscription {
	return &subscription{sub: f.reg.Subscribe(filter)}
}

type subscription struct {
	sub *group.Subscription
	buf []group.Event // reused; sized to the caller's buffer
}

func (s *subscription) Notify() <-chan struct{} { return s.sub.Notify() }

func (s *subscription) Next(buf []pluginhost.Event) ([]pluginhost.Event, bool) {
	want := cap(buf)
	if want == 0 {
		want = group.DefaultBatch
	}
	if cap(s.buf) != want {
		s.buf = make([]group.Event, 0, want)
	}
	evs, resync := s.sub.Next(s.buf)
	s.buf = evs[:0]
	buf = buf[:0]
	for i := range evs {
		e := &evs[i]
		buf = append(buf, pluginhost.Event{Kind: kind(e.Kind), Group: e.Group, Member: pluginhost.Member(e.Member)})
	}
	return buf, resync
}

func (s *subscription) Resync() []pluginhost.GroupSnapshot {
	snap := s.sub.Resync()
	if snap == nil {
		return nil
	}
	total := 0
	for i := range snap {
		total += len(snap[i].Members)
	}
	slab := make([]pluginhost.Member, total) // one allocation for all members
	out := make([]pluginhost.GroupSnapshot, len(snap))
	for i := range snap {
		g := &snap[i]
		ms := slab[:len(g.Members):len(g.Members)]
		slab = slab[len(g.Members):]
		for j, m := range g.Members {
			ms[j] = pluginhost.Member(m)
		}
		out[i] = pluginhost.GroupSnapshot{ID: g.ID, Ready: g.Ready, Members: ms}
	}
	return out
}

func (s *subscription) Close() { s.sub.Close() }

// kind maps the registry's event kinds to the host's. An unknown kind maps
// to zero, which the host drops rather than misreport.
func kind(k group.EventKind) pluginhost.EventKind {
	switch k {
	case group.Join:
		return pluginhost.EventJoin
	case group.Leave:
		return pluginhost.EventLeave
	case group.Expiry:
		return pluginhost.EventExpiry
	case group.Ready:
		return pluginhost.EventReady
	}
	return 0
}
