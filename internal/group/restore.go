package group

import (
	"cmp"
	"slices"
)

// RestoreResult says what Restore did, for the caller's log.
type RestoreResult struct {
	// Members is the number of members restored.
	Members int
	// Expired is the number of saved members dropped because their expiry
	// had passed.
	Expired int
	// Capped is the number of restored members whose saved expiry lay more
	// than their group's expire ahead and was brought back to now+expire.
	Capped int
	// Ready lists the groups made ready at once.
	Ready []uint64
	// Unknown lists the saved groups that are not configured (skipped).
	Unknown []uint64
	// LeftMarks is the number of anti-replay marks of members that left
	// restored (those not yet due to be forgotten).
	LeftMarks int
}

// Restore brings back group state saved by an earlier run. It must be
// called before Run; afterwards it changes nothing and returns
// ErrAlreadyRunning.
//
// For every saved group that is configured, each member whose expiry is
// still ahead joins with that expiry, as if it had just announced: a Join
// event is published and the member is in every subscriber's first
// snapshot, so a later announcement of it is a refresh, not a join. An
// expiry more than the group's expire ahead (the file is from a run with a
// longer expire, or the clock went back) is brought back to now+expire. A
// member already present keeps the later of the two expiries. A saved group
// with Ready set is ready at once (a Ready event), without waiting for its
// readiness delay; deciding that is the caller's business. Saved groups
// that are not configured are skipped and listed in the result.
//
// Anti-replay marks (GroupSnapshot.Marks, from StateSnapshot) come back
// too, so that a restart does not open a window for a captured
// announcement. A live member's mark is restored with the member (without
// a saved one, as from an older state file, it is taken to be its expiry
// less the group's expire: the timestamp that gave it that expiry). The
// mark of a member that left is kept until its saved Until, or until its
// timestamp plus the group's clock skew if that is later (the skew check
// refuses every timestamp up to the mark from then on, whatever the skew
// is now); one already due is dropped.
func (r *Registry) Restore(saved []GroupSnapshot) (RestoreResult, error) {
	var res RestoreResult
	if r.running.Load() {
		return res, ErrAlreadyRunning
	}
	now := r.clock.Now().UnixNano()
	r.mu.Lock()
	defer r.mu.Unlock()
	index := r.table.Load().index
	for _, sg := range saved {
		lg, ok := index[sg.ID]
		if !ok {
			res.Unknown = append(res.Unknown, sg.ID)
			continue
		}
		gi := lg.slot
		g := &r.groups[gi]
		limit := addSat(now, g.expire)
		var saved map[mkey]int64 // the saved marks of live members
		for _, mk := range sg.Marks {
			if mk.Until.IsZero() && mk.Addr.IsValid() {
				if saved == nil {
					saved = make(map[mkey]int64, len(sg.Members))
				}
				saved[markKey(mk)] = mk.Timestamp.UnixNano()
			}
		}
		for _, m := range sg.Members {
			if !m.Addr.IsValid() {
				continue
			}
			expires := m.Expires.UnixNano()
			if expires <= now {
				res.Expired++
				continue
			}
			if expires > limit {
				expires = limit
				res.Capped++
			}
			key := mkey{addr: toAddr16(m.Addr.Unmap().WithZone("")), port: m.Port}
			// The mark is the timestamp of the member's latest
			// announcement: saved, or as far as the expiry tells it.
			mark, ok := saved[key]
			if !ok {
				mark = expires - g.expire
			}
			if slot, ok := r.members.get(&r.slab, ikey{group: gi, mk: key}); ok {
				cur := r.slab.at(slot)
				cur.mark = max(cur.mark, mark)
				if expires > cur.expires {
					cur.expires = expires
					cur.published = expires
					r.emit(Expiry, gi, key, cur.weight, expires)
				}
				continue
			}
			r.join(g, gi, key, m.Weight, mark, expires)
			res.Members++
		}
		res.LeftMarks += r.restoreLeft(gi, sg.Marks, now)
		if sg.Ready && !g.ready {
			g.ready = true
			r.emit(Ready, gi, mkey{}, 0, 0)
			res.Ready = append(res.Ready, sg.ID)
		}
	}
	return res, nil
}

// restoreLeft brings back the saved marks of members of g that left (those
// with Until set) that are not yet due at now, and returns how many. A
// member live again keeps the later of its mark and the saved one. r.mu
// must be held.
func (r *Registry) restoreLeft(gi uint32, marks []Mark, now int64) int {
	g := &r.groups[gi]
	n := 0
	for _, mk := range marks {
		if mk.Until.IsZero() || !mk.Addr.IsValid() {
			continue
		}
		key, ts := markKey(mk), mk.Timestamp.UnixNano()
		if slot, ok := r.members.get(&r.slab, ikey{group: gi, mk: key}); ok {
			m := r.slab.at(slot)
			m.mark = max(m.mark, ts)
			continue
		}
		due := max(mk.Until.UnixNano(), addSat(ts, g.skew))
		if due <= now {
			continue
		}
		if g.left == nil {
			g.left = make(map[mkey]leftMark)
		}
		if lm, ok := g.left[key]; ok {
			ts, due = max(ts, lm.mark), max(due, lm.due)
		}
		g.left[key] = leftMark{mark: ts, due: due}
		g.lefts = append(g.lefts, leftDue{due: due, key: key})
		n++
	}
	// sweepLeft forgets from the front while due: keep the queue in order.
	slices.SortStableFunc(g.lefts, func(a, b leftDue) int { return cmp.Compare(a.due, b.due) })
	return n
}

// markKey is the member key of a saved mark.
func markKey(mk Mark) mkey {
	return mkey{addr: toAddr16(mk.Addr.Unmap().WithZone("")), port: mk.Port}
}

// Seq returns the sequence number the next event will get. It moves on
// every change of any group, so a caller that saves the state can tell
// whether anything changed since it last looked.
func (r *Registry) Seq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head
}
