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
			*g = group{id: c.ID}
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
	order := make(map[uint32]int, len(slots)) // group slot -> its place in slots
	members := 0
	for i, slot := range slots {
		r.groups[slot].removed = true
		order[slot] = i
		members += r.groups[slot].count
	}
	if members > 0 {
		// Every member has exactly one heap entry; drop those of the
		// removed groups before their slab slots are released for
		// reuse. A slot whose member left by a leave keeps its entry:
		// the sweep releases it.
		r.expiry.drop(func(slot uint32) bool {
			gi := r.slab.at(slot).group
			return gi != left && r.groups[gi].removed
		})
		// Their members leave group by group, each group's in address
		// order. Groups removed earlier have none left.
		gone := make([]uint32, 0, members)
		for ms, m := range r.slab.members() {
			if r.groups[m.group].removed {
				gone = append(gone, ms)
			}
		}
		slices.SortFunc(gone, func(a, b uint32) int {
			ma, mb := r.slab.at(a), r.slab.at(b)
			if c := order[ma.group] - order[mb.group]; c != 0 {
				return c
			}
			return mkey{addr: ma.addr, port: ma.port}.compare(mkey{addr: mb.addr, port: mb.port})
		})
		for _, ms := range gone {
			m := r.slab.at(ms)
			r.emit(Leave, m.group, mkey{addr: m.addr, port: m.port}, m.weight, m.expires)
			r.members.remove(&r.slab, ms)
			r.slab.release(ms)
		}
	}
	for _, slot := range slots {
		g := &r.groups[slot]
		*g = group{id: g.id, removed: true, joins: g.joins, leaves: g.leaves}
	}
}
