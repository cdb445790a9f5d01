package pluginhost

import "sync"

// groupUpdates hands a new group list from Update to the pump of a plugin
// that declared CAPABILITY_GROUP_UPDATES: the pump sends it on the first
// chunk of a fresh snapshot, in order with everything else on the stream,
// so the plugin takes the list and the state that follows it together.
// Only the latest list is kept: an older one still pending is superseded.
type groupUpdates struct {
	mu      sync.Mutex
	pending []GroupInfo
	has     bool
	ch      chan struct{} // capacity 1: a list is pending
}

func newGroupUpdates() *groupUpdates { return &groupUpdates{ch: make(chan struct{}, 1)} }

// post makes groups the list to send next.
func (u *groupUpdates) post(groups []GroupInfo) {
	u.mu.Lock()
	u.pending, u.has = groups, true
	u.mu.Unlock()
	select {
	case u.ch <- struct{}{}:
	default:
	}
}

// take returns the pending list, if any, and clears it.
func (u *groupUpdates) take() ([]GroupInfo, bool) {
	if u == nil {
		return nil, false
	}
	u.mu.Lock()
	defer u.mu.Unlock()
	g, ok := u.pending, u.has
	u.pending, u.has = nil, false
	return g, ok
}

// notify returns the channel that receives when a list is pending (nil,
// which never receives, for a plugin without the capability).
func (u *groupUpdates) notify() <-chan struct{} {
	if u == nil {
		return nil
	}
	return u.ch
}
