// Package ingest is the listener's per-datagram path: it decodes each
// received datagram, looks up its group, verifies the signature and the
// timestamp, and hands accepted announcements to the group state.
//
// Checks run cheapest first, and each rejection is counted by reason:
//
//  1. length (66 bytes) and version (1)     -> ReasonLength, ReasonVersion
//  2. the group is configured                 -> ReasonUnknownGroup
//  3. the HMAC verifies with the group's key  -> ReasonMAC
//  4. the address is a unicast host address   -> ReasonBadAddress
//  5. the timestamp is within clock_skew      -> ReasonClockSkew
//
// The signature is checked before the address and the clock so that their
// counters only ever count authentic announcements: an agent announcing an
// address no backend can have (unspecified, multicast, limited broadcast,
// link-local; see protocol.CheckAddress) or whose clock is off is something
// an operator fixes at that agent, while forged or corrupted datagrams all
// land in the MAC counter. The address rule costs a few compares, so it runs
// before the clock.
//
// A timestamp the group state cannot hold (more than about 136 years from
// 1970, which only a clock_skew of a century or more lets through) is a
// clock-skew drop too: every drop is booked under what is wrong with the
// datagram, never as an unknown group.
//
// The group table (ids, keys, clock skews) is replaced whole by
// [Pipeline.SetGroups] on a config reload; workers read it through an
// atomic pointer, once per datagram, so the per-datagram path takes no lock
// and judges each datagram wholly by one table.
//
// Nothing here blocks or logs above trace level: the group state never waits
// for its consumers, and a drop is a counter increment. Each socket reader
// gets its own Worker, so the counters of two readers never share a cache
// line; Stats adds them up.
package ingest

import (
	"errors"
	"fmt"
	"net/netip"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/group"
	"github.com/rgap-project/rgap/internal/protocol"
)

// Reason is why a datagram was dropped.
type Reason int

// Drop reasons, in the order the checks run.
const (
	ReasonLength Reason = iota
	ReasonVersion
	ReasonUnknownGroup
	ReasonMAC
	ReasonBadAddress
	ReasonClockSkew
	numReasons
)

var reasonNames = [numReasons]string{"length", "version", "unknown_group", "bad_mac", "bad_address", "clock_skew"}

// String is the reason's metric label, e.g. "bad_mac".
func (r Reason) String() string {
	if r >= 0 && r < numReasons {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", int(r))
}

// Reasons lists every drop reason.
func Reasons() []Reason {
	rs := make([]Reason, numReasons)
	for i := range rs {
		rs[i] = Reason(i)
	}
	return rs
}

// Group is what the pipeline needs to know about one configured group.
type Group struct {
	ID uint64
	// Key verifies the group's announcements; safe for concurrent use.
	Key *protocol.Key
	// ClockSkew is how far an announcement's timestamp may be from now,
	// either way.
	ClockSkew time.Duration
}

// Observer is the group state accepted announcements go to
// (*group.Registry). ObserveAt takes the time the batch was read, so the
// clock is read once per batch rather than once per datagram.
type Observer interface {
	ObserveAt(group uint64, addr netip.Addr, timestamp, now time.Time) (group.Result, error)
}

// Pipeline holds the configuration shared by all workers.
type Pipeline struct {
	// table is the group table in force, replaced whole by SetGroups;
	// each datagram is judged by the one table it loaded.
	table atomic.Pointer[table]
	obs   Observer
	now   func() time.Time
	log   hclog.Logger

	mu      sync.Mutex // guards workers and gen, and serialises SetGroups
	workers []*Worker
	gen     uint64 // the last entry.gen handed out
}

// table is one group table: immutable once published.
type table struct {
	groups map[uint64]entry
	order  []uint64 // group ids in configuration order; entry.index points here
}

// Options tune a Pipeline; the zero value is usable.
type Options struct {
	// Now is the clock for the skew check; nil means time.Now.
	Now    func() time.Time
	Logger hclog.Logger
}

// New builds a pipeline. Duplicate group ids, a nil key or a negative skew
// are errors naming the group.
func New(groups []Group, obs Observer, opts Options) (*Pipeline, error) {
	p := &Pipeline{obs: obs, now: opts.Now, log: opts.Logger}
	if p.now == nil {
		p.now = time.Now
	}
	if p.log == nil {
		p.log = hclog.NewNullLogger()
	}
	t, err := p.build(groups, &table{})
	if err != nil {
		return nil, err
	}
	p.table.Store(t)
	return p, nil
}

// SetGroups replaces the group table (a config reload), checking groups as
// New does; on error nothing changes. It is safe while workers run: each
// datagram is judged wholly by the old table or wholly by the new one, and
// every datagram a worker handles after SetGroups returns by the new one,
// so a group whose key changed verifies with the new key from then on.
//
// A group that stays (same id) keeps its count in AcceptedByGroup; a
// removed one is no longer listed; an added one (also an id removed
// earlier and added again) starts from 0.
//
// Announcements that pass go to the Observer, whose group list must follow:
// a reload that changes the registry first and the pipeline second makes an
// announcement of an added group an unknown group until SetGroups, and one
// of a removed group an unknown group from the registry's change on.
func (p *Pipeline) SetGroups(groups []Group) error {
	p.mu.Lock()
	defer p.mu.Unlock()
	t, err := p.build(groups, p.table.Load())
	if err != nil {
		return err
	}
	p.table.Store(t)
	return nil
}

// build checks groups and makes their table; a group old also holds keeps
// its generation. p.mu must be held, or p not yet shared.
func (p *Pipeline) build(groups []Group, old *table) (*table, error) {
	t := &table{groups: make(map[uint64]entry, len(groups)), order: make([]uint64, 0, len(groups))}
	gen := p.gen
	for _, g := range groups {
		if _, dup := t.groups[g.ID]; dup {
			return nil, fmt.Errorf("group %d: configured twice", g.ID)
		}
		if g.Key == nil {
			return nil, fmt.Errorf("group %d: no key", g.ID)
		}
		if g.ClockSkew < 0 {
			return nil, fmt.Errorf("group %d: negative clock skew %v", g.ID, g.ClockSkew)
		}
		e := entry{Group: g, index: len(t.order)}
		if o, ok := old.groups[g.ID]; ok {
			e.gen = o.gen
		} else {
			gen++
			e.gen = gen
		}
		t.groups[g.ID] = e
		t.order = append(t.order, g.ID)
	}
	p.gen = gen
	return t, nil
}

// entry is a configured group and its position in the configuration.
type entry struct {
	Group
	index int
	// gen tells the groups of one id apart across SetGroups: a group that
	// stays keeps it, an added one gets a new one.
	gen uint64
}

// Worker processes the datagrams of one reader goroutine. It is not safe for
// concurrent use; make one per reader with NewWorker.
type Worker struct {
	p        *Pipeline
	accepted atomic.Uint64
	// byGroup counts accepted announcements per group of one table; the
	// counters are the worker's own, so readers never share one. Only the
	// worker writes them, and it moves them to a new table itself (see
	// countGroup).
	byGroup atomic.Pointer[groupCounts]
	results [resultSlots]atomic.Uint64 // indexed by group.Result
	dropped [numReasons]atomic.Uint64
	_       [64]byte // keep the next worker's counters off this cache line
}

// NewWorker returns a worker whose counters are included in p.Stats.
func (p *Pipeline) NewWorker() *Worker {
	w := &Worker{p: p}
	p.mu.Lock()
	w.byGroup.Store(newGroupCounts(p.table.Load()))
	p.workers = append(p.workers, w)
	p.mu.Unlock()
	return w
}

// HandleBatch processes one batch of datagrams, reading the clock once.
func (w *Worker) HandleBatch(datagrams [][]byte) {
	now := w.p.now()
	for _, d := range datagrams {
		w.Handle(d, now)
	}
}

// Handle processes one datagram received at now and reports whether it was
// accepted. The whole datagram is judged by one group table.
func (w *Worker) Handle(d []byte, now time.Time) bool {
	a, err := protocol.Parse(d)
	if err != nil {
		if errors.Is(err, protocol.ErrVersion) {
			return w.drop(ReasonVersion, d)
		}
		return w.drop(ReasonLength, d)
	}
	if a.Version != protocol.Version {
		// The codec reads v2, but the group state cannot yet keep what
		// it adds (ports, weights, leaves, key ids): until it can, a v2
		// datagram is dropped as an unsupported version, as before.
		return w.drop(ReasonVersion, d)
	}
	t := w.p.table.Load()
	g, ok := t.groups[a.Group]
	if !ok {
		return w.drop(ReasonUnknownGroup, d)
	}
	if g.Key.Verify(d) != nil {
		return w.drop(ReasonMAC, d)
	}
	if protocol.CheckAddress(a.Addr) != nil {
		return w.drop(ReasonBadAddress, d)
	}
	ts := a.Time()
	// Compare times rather than negate now.Sub(ts): for timestamps near the
	// ends of int64 that Duration saturates, and -minDuration overflows.
	if ts.Before(now.Add(-g.ClockSkew)) || ts.After(now.Add(g.ClockSkew)) {
		return w.drop(ReasonClockSkew, d)
	}
	res, err := w.p.obs.ObserveAt(a.Group, a.Addr, ts, now)
	if err != nil {
		return w.drop(observeReason(err), d)
	}
	w.accepted.Add(1)
	w.countGroup(t, g.index)
	if int(res) >= 0 && int(res) < len(w.results) {
		w.results[res].Add(1)
	}
	return true
}

// observeReason books a refusal by the group state under the check it
// amounts to. The registry returns its sentinels unwrapped, so comparing
// them is enough and costs no allocation.
func observeReason(err error) Reason {
	switch err {
	case group.ErrTimestampOutOfRange:
		// A clock_skew of a century or more let through a timestamp the
		// state cannot hold: it is as far from now as a clock can be off.
		return ReasonClockSkew
	case group.ErrInvalidAddress:
		return ReasonBadAddress
	default:
		// ErrUnknownGroup: the pipeline and the registry are built from
		// the same groups, so outside a reload (see SetGroups) this is a
		// wiring bug, not bad input; count it rather than crash.
		return ReasonUnknownGroup
	}
}

func (w *Worker) drop(r Reason, d []byte) bool {
	w.dropped[r].Add(1)
	if w.p.log.IsTrace() {
		w.p.log.Trace("datagram dropped", "reason", r.String(), "datagram", protocol.Describe(d))
	}
	return false
}

// resultSlots covers every group.Result value (they start at 1).
const resultSlots = int(group.Stale) + 1

// Stats are the pipeline's counters, summed over its workers.
type Stats struct {
	Accepted uint64
	// Results counts accepted announcements by what they did to the group
	// state, indexed by group.Result (index 0 is unused).
	Results [resultSlots]uint64
	Dropped [numReasons]uint64
}

// DroppedTotal is the number of datagrams dropped for any reason.
func (s Stats) DroppedTotal() uint64 {
	var n uint64
	for _, d := range s.Dropped {
		n += d
	}
	return n
}

// Stats returns the counters so far.
func (p *Pipeline) Stats() Stats {
	p.mu.Lock()
	defer p.mu.Unlock()
	var s Stats
	for _, w := range p.workers {
		s.Accepted += w.accepted.Load()
		for i := range s.Results {
			s.Results[i] += w.results[i].Load()
		}
		for i := range s.Dropped {
			s.Dropped[i] += w.dropped[i].Load()
		}
	}
	return s
}

// GroupCount is one group's count of accepted announcements.
type GroupCount struct {
	ID       uint64
	Accepted uint64
}

// AcceptedByGroup returns the accepted announcements of every group in the
// current table, summed over the workers, in configuration order.
func (p *Pipeline) AcceptedByGroup() []GroupCount {
	p.mu.Lock()
	defer p.mu.Unlock()
	t := p.table.Load()
	out := make([]GroupCount, len(t.order))
	for i, id := range t.order {
		out[i].ID = id
	}
	for _, w := range p.workers {
		c := w.byGroup.Load()
		for i, id := range t.order {
			out[i].Accepted += c.count(t.groups[id])
		}
	}
	return out
}

// groupCounts are a worker's accepted counters for the groups of one table,
// indexed by entry.index.
type groupCounts struct {
	t *table
	n []atomic.Uint64
}

func newGroupCounts(t *table) *groupCounts {
	return &groupCounts{t: t, n: make([]atomic.Uint64, len(t.order))}
}

// countGroup counts an accepted announcement of the group at index i of t.
// The first one a worker counts under a new table moves its counters over
// (allocating once per worker and SetGroups, never in the steady state).
func (w *Worker) countGroup(t *table, i int) {
	c := w.byGroup.Load()
	if c.t != t {
		next := newGroupCounts(t)
		for j, id := range t.order {
			next.n[j].Store(c.count(t.groups[id]))
		}
		w.byGroup.Store(next)
		c = next
	}
	c.n[i].Add(1)
}

// count is c's count for group e: 0 unless c's table holds the same group
// (id and generation).
func (c *groupCounts) count(e entry) uint64 {
	o, ok := c.t.groups[e.ID]
	if !ok || o.gen != e.gen {
		return 0
	}
	return c.n[o.index].Load()
}
