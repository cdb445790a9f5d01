package group

import "time"

// Stats is a point-in-time view of one group, for a metrics endpoint.
type Stats struct {
	ID uint64
	// Members is the number of live members.
	Members int
	// Ready tells whether the group has been reported ready.
	Ready bool
	// Started is false until Run has started the readiness delays.
	Started bool
	// ReadyIn is how much of the readiness delay is left (0 once ready or
	// before Run).
	ReadyIn time.Duration
	// Joins and Leaves count the group's Join and Leave events so far (a
	// member that expired and is announced again counts one of each).
	Joins, Leaves uint64
}

// Stats returns every group's counters in configuration order. It takes
// the registry lock once, for a copy of a few words per group. A group a
// Reconfigure removed is not listed; one it added starts from zero.
func (r *Registry) Stats() []Stats {
	now := r.clock.Now().UnixNano()
	r.mu.Lock()
	order := r.table.Load().order
	out := make([]Stats, len(order))
	for i, slot := range order {
		g := &r.groups[slot]
		out[i] = Stats{ID: g.id, Members: g.count, Ready: g.ready, Started: g.started, Joins: g.joins, Leaves: g.leaves}
		if g.started && !g.ready && g.readyAt > now {
			out[i].ReadyIn = time.Duration(g.readyAt - now)
		}
	}
	r.mu.Unlock()
	return out
}
