package group

import (
	"fmt"
	"slices"
)

// Reconfigure replaces the group list while the registry runs (a config
// reload). groups is checked exactly as New checks it; on error nothing
// changes. It may be called before Run and concurrently with every other
// method.
//
//   - A group that stays (same id) keeps its members, readiness and
//     counters. A new Expire applies to announcements observed from now
//     on; the members' current expiries stay as they are. A new
//     ReadinessDelay matters only while the group is not ready yet: it
//     becomes ready at the instant its delay started counting plus the
//     new delay (at once, if that has passed).
//   - A group that is added starts empty and not ready, its readiness
//     delay counted from now (from Run's start if Run has not started
//     yet), and publishes Ready as at start.
//   - A group that is removed publishes a Leave for each member (sorted by
//     address), so a subscriber's copy of it ends empty; then it is gone:
//     Observe returns ErrUnknownGroup, and Groups, Snapshot and Stats no
//     longer list it.
//
// Events refer to their group by a slot that never moves: a removed
// group's slot stays behind as a tombstone, so the events a subscriber has
// not read yet still name the right group. A group removed and later added
// again gets its old slot back as a new, empty group (its counters start
// from zero); the slots thus number the distinct ids ever configured.
// Subscriptions see the events of an added group whose id their filter
// accepts (see Subscribe).
func (r *Registry) Reconfigure(groups []Config) error {
	if err := validate(groups); err != nil {
		return err
	}
	now := r.clock.Now().UnixNano()
	r.mu.Lock()
	ch, err := r.reconfigureLocked(groups, now)
	r.mu.Unlock()
	if err != nil {
		return err
	}
	// Logged after unlocking, as in sweep: a slow log sink must not stall
	// ingest.
	r.log.Info("groups reconfigured", "groups", len(groups), "added", ch.added, "removed", ch.removed)
	for _, id := range ch.readied {
		r.log.Info("group ready", "group", id)
	}
	return nil
}

// reconfigured lists what a Reconfigure changed, for its log.
type reconfigured struct {
	added, removed, readied []uint64
}

// reconfigureLocked applies a validated group list at now. r.mu must be
// held.
func (r *Registry) reconfigureLocked(groups []Config, now int64) (reconfigured, error) {
	var ch reconfigured
	old := r.table.Load()
	stays := make(map[uint64]bool, len(groups))
	fresh := 0
	for _, c := range groups {
		stays[c.ID] = true
		if _, known := r.slots[c.ID]; !known {
			fresh++
		}
	}
	if len(r.groups)+fresh > maxSlots {
		return ch, fmt.Errorf("%w: %d groups configured so far is too many", ErrInvalidConfig, len(r.groups)+fresh)
	}

	var gone []uint32
	for _, c := range old.configs {
		if !stays[c.ID] {
			gone = append(gone, old.index[c.ID].slot)
			ch.removed = append(ch.removed, c.ID)
		}
	}
	r.removeLocked(gone)

	next := newTable(groups)
	for _, c := range groups {
		slot, known := r.slots[c.ID]
		if !known {
			slot = uint32(len(r.groups))
			r.groups = append(r.groups, group{id: c.ID})
			r.slots[c.ID] = slot
		}
		g := &r.groups[slot]
		if _, live := old.index[c.ID]; !live {
			*g = group{id: c.ID, members: make(map[mkey]uint32)}
			if r.runStarted {
				g.started = true
				g.startAt = now
			}
			ch.added = append(ch.added, c.ID)
		}
		g.expire = int64(c.Expire)
		g.delay = int64(c.ReadinessDelay)
		g.skew = skewOf(c)
		if g.started && !g.ready {
			g.readyAt = addSat(g.startAt, g.delay)
			if g.readyAt <= now {
				g.ready = true
				r.emit(Ready, slot, mkey{}, 0, 0)
				ch.readied = append(ch.readied, g.id)
			}
		}
		next.add(c, slot)
	}
	r.table.Store(next)
	return ch, nil
}

// removeLocked turns the groups in slots into tombstones: each member
// leaves (a Leave event, in address order) and its storage and heap entry
// are freed. r.mu must be held.
func (r *Registry) removeLocked(slots []uint32) {
	members := 0
	for _, slot := range slots {
		r.groups[slot].removed = true
		members += len(r.groups[slot].members)
	}
	if members > 0 {
		// Every member has exactly one heap entry; drop those of the
		// removed groups before their slab slots are freed for reuse.
		// A slot whose member left by a leave keeps its entry: the
		// sweep frees it.
		r.expiry.drop(func(slot uint32) bool {
			gi := r.slab[slot].group
			return gi != left && r.groups[gi].removed
		})
	}
	for _, slot := range slots {
		g := &r.groups[slot]
		keys := make([]mkey, 0, len(g.members))
		for k := range g.members {
			keys = append(keys, k)
		}
		slices.SortFunc(keys, mkey.compare)
		for _, k := range keys {
			ms := g.members[k]
			r.emit(Leave, slot, k, r.slab[ms].weight, r.slab[ms].expires)
			r.slab[ms] = member{}
			r.free = append(r.free, ms)
		}
		*g = group{id: g.id, removed: true, joins: g.joins, leaves: g.leaves}
	}
}
