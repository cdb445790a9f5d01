package group

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
			if slot, ok := g.members[key]; ok {
				if cur := &r.slab[slot]; expires > cur.expires {
					cur.expires = expires
					cur.published = expires
					r.emit(Expiry, gi, key, cur.weight, expires)
				}
				continue
			}
			// The mark is the timestamp of the member's latest
			// announcement, as far as the expiry tells it.
			r.join(g, gi, key, m.Weight, expires-g.expire, expires)
			res.Members++
		}
		if sg.Ready && !g.ready {
			g.ready = true
			r.emit(Ready, gi, mkey{}, 0, 0)
			res.Ready = append(res.Ready, sg.ID)
		}
	}
	return res, nil
}

// Seq returns the sequence number the next event will get. It moves on
// every change of any group, so a caller that saves the state can tell
// whether anything changed since it last looked.
func (r *Registry) Seq() uint64 {
	r.mu.Lock()
	defer r.mu.Unlock()
	return r.head
}
