package group

// DefaultBatch is how many events Next returns at most when given a buffer
// without capacity.
const DefaultBatch = 256

// scanFactor bounds how many ring slots one Next call looks at (scanFactor
// times its batch limit), so that a subscriber whose filter rejects most
// events does not hold the registry lock for a whole ring.
const scanFactor = 16

// Subscription is a cursor into the registry's event ring, restricted to a
// set of groups. It starts out needing a resync: a consumer's first call is
// Resync, which returns the initial snapshot. Typical use:
//
//	sub := reg.Subscribe(filter)
//	defer sub.Close()
//	apply(sub.Resync())
//	for {
//		evs, resync := sub.Next(buf)
//		switch {
//		case resync:
//			apply(sub.Resync())
//		case len(evs) > 0:
//			apply(evs)
//		default:
//			<-sub.Notify() // or ctx.Done()
//		}
//	}
//
// A Subscription may be used from one goroutine at a time.
type Subscription struct {
	r      *Registry
	filter func(id uint64) bool
	notify chan struct{}

	// Guarded by r.mu.
	want       []bool // indexed by slot; extended when Reconfigure adds slots
	cursor     uint64 // sequence number of the next event to read
	needResync bool
	armed      bool // in r.waiting
	closed     bool
}

// Subscribe returns a subscription to the groups accepted by filter (nil: all
// groups). filter is evaluated once per group: here for the groups
// configured now, and for a group a later Reconfigure adds, at the next Next
// or Resync. It is called with the registry lock held, so it must be quick
// and must not call the Registry. A group that is removed and added again
// keeps the answer filter gave for its id.
func (r *Registry) Subscribe(filter func(id uint64) bool) *Subscription {
	s := &Subscription{
		r:          r,
		filter:     filter,
		notify:     make(chan struct{}, 1),
		needResync: true,
	}
	r.mu.Lock()
	s.want = r.wantLocked(filter, nil)
	r.mu.Unlock()
	s.notify <- struct{}{} // there is something to do: the initial resync
	return s
}

// Notify returns a channel that receives when events may be pending. Wake-ups
// can be spurious; after one, call Next until it returns no events. The
// channel is closed by Close.
func (s *Subscription) Notify() <-chan struct{} { return s.notify }

// Next appends the pending events of the subscription's groups to buf[:0] and
// returns it, at most cap(buf) events (DefaultBatch if buf has no capacity; a
// buffer with capacity is never reallocated, so steady-state reading does not
// allocate). It may return fewer than are pending, including none while more
// are pending, in which case Notify is already signalled.
//
// resync is true, with no events, when the subscription has not been resynced
// yet or when the registry overwrote events it had not read (it was lapped):
// the consumer must call Resync before reading on. After Close, Next returns
// nothing.
func (s *Subscription) Next(buf []Event) (events []Event, resync bool) {
	buf = buf[:0]
	limit := cap(buf)
	if limit == 0 {
		limit = DefaultBatch
		buf = make([]Event, 0, limit)
	}
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed {
		return buf, false
	}
	if !s.needResync && r.head-s.cursor > uint64(len(r.ring)) {
		s.needResync = true
		if r.log.IsDebug() {
			r.log.Debug("subscriber lapped; it must resync", "behind", r.head-s.cursor, "ring_size", len(r.ring))
		}
	}
	if s.needResync {
		return buf, true
	}
	s.want = r.wantLocked(s.filter, s.want)
	for scanned := 0; s.cursor < r.head && len(buf) < limit && scanned < limit*scanFactor; scanned++ {
		rec := &r.ring[s.cursor&r.mask]
		if s.want[rec.group()] {
			buf = append(buf, r.event(s.cursor, rec))
		}
		s.cursor++
	}
	if s.cursor == r.head {
		s.arm()
	} else {
		select { // more is pending: make sure a waiting consumer comes back
		case s.notify <- struct{}{}:
		default:
		}
	}
	return buf, false
}

// Resync returns a snapshot of the subscription's groups (as Snapshot) and
// moves the cursor to the first event after it, atomically: applying the
// snapshot and then every event Next returns reproduces the registry's state.
// After Close it returns nil.
func (s *Subscription) Resync() []GroupSnapshot {
	r := s.r
	r.mu.Lock()
	if s.closed {
		r.mu.Unlock()
		return nil
	}
	s.want = r.wantLocked(s.filter, s.want)
	snap := r.snapshotLocked(s.want)
	s.cursor = r.head
	s.needResync = false
	s.arm()
	r.mu.Unlock()
	sortSnapshot(snap)
	return snap
}

// Close ends the subscription and closes the Notify channel. It is
// idempotent.
func (s *Subscription) Close() {
	r := s.r
	r.mu.Lock()
	defer r.mu.Unlock()
	if s.closed {
		return
	}
	s.closed = true
	if s.armed {
		for i, w := range r.waiting {
			if w == s {
				r.waiting = append(r.waiting[:i], r.waiting[i+1:]...)
				break
			}
		}
		s.armed = false
	}
	close(s.notify)
}

// arm registers the caught-up subscription for a wake-up on the next event.
// r.mu must be held.
func (s *Subscription) arm() {
	if !s.armed {
		s.armed = true
		s.r.waiting = append(s.r.waiting, s)
	}
}

// event expands a ring record into an Event. r.mu must be held.
func (r *Registry) event(seq uint64, rec *record) Event {
	e := Event{Seq: seq, Kind: rec.kind(), Group: r.groups[rec.group()].id}
	if rec.kind() != Ready {
		e.Member = Member{Addr: rec.addr.addr(), Port: rec.port, Weight: rec.weight, Expires: unixTime(rec.expires)}
	}
	return e
}
