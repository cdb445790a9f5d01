// Package ingest is the listener's per-datagram path: it decodes each
// received datagram, looks up its group, verifies the signature and the
// timestamp, and hands accepted announcements to the group state.
//
// Both protocol versions arrive on the same socket. Checks run cheapest
// first, and each rejection is counted by reason:
//
//  1. length (66 or 72 bytes) and version      -> ReasonLength, ReasonVersion
//  2. the group is configured                   -> ReasonUnknownGroup
//  3. v2: the key id is one of the group's      -> ReasonUnknownKey
//  4. the HMAC verifies with the group's key    -> ReasonMAC
//     (v2: the key named; v1: any of the group's keys, in order)
//  5. the address is a unicast host address     -> ReasonBadAddress
//  6. the timestamp is within clock_skew        -> ReasonClockSkew
//  7. the timestamp is newer than the member's  -> ReasonReplay
//     anti-replay mark (see below)
//
// # Keys
//
// A group holds one or more keys, each with an id (0–255, the v2 wire's
// u8); a configuration's single psk is key 0. A v2 datagram names its key,
// so it costs one HMAC whatever the number of keys; an id the group does
// not hold is counted as ReasonUnknownKey rather than ReasonMAC, because
// during a key rotation it means "this agent uses a key the listener does
// not have yet", which the operator fixes at the listener. (The id is not
// authenticated until the MAC is checked: like a forged group id, a forged
// key id only selects what the datagram is checked against.) A v1 datagram
// names no key: it is tried against each of the group's keys in
// configuration order, so its worst case (a forged datagram) costs one
// HMAC per key. Accepted announcements are counted per key
// ([Pipeline.AcceptedByKey]), so an operator sees when an old key falls
// silent.
//
// # Anti-replay
//
// Senders' timestamps are strictly increasing: a v2 agent never repeats or
// goes back, and a v1 agent (the original implementation's stamps each
// announcement with its ticker's time in Unix microseconds, one datagram per
// tick sent to every destination; this one's likewise, never repeating)
// moves on by its interval between announcements. So the group state keeps, per (group, address, port), the
// newest timestamp it took, and anything not newer is dropped as
// ReasonReplay: a captured datagram sent again, or a v1 duplicate (the same
// announcement reaching the listener twice, say by multicast and unicast),
// which carries nothing new. The mark of a member that left by a v2 leave
// is kept for twice clock_skew, so a captured announcement cannot add it
// again; see group.Registry.Apply. Two v1 cases are now counted as replay
// that used to be accepted without effect: two agents announcing the same
// address in one group, whose timestamps interleave, and an original agent
// whose wall clock stepped back, until its clock passes its last timestamp.
// Neither ever moved the member's expiry (an older timestamp gives an
// earlier expiry), so membership is as before; only the counter differs.
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
	ReasonUnknownKey
	ReasonMAC
	ReasonBadAddress
	ReasonClockSkew
	ReasonReplay
	numReasons
)

var reasonNames = [numReasons]string{"length", "version", "unknown_group", "unknown_key", "bad_mac", "bad_address", "clock_skew", "replay"}

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
	// Key, when set, is the group's key with id 0 (a configuration's
	// single psk); Keys are its other keys (or all of them). Together
	// they must hold at least one key and no id twice.
	Key  *protocol.Key
	Keys []Key
	// ClockSkew is how far an announcement's timestamp may be from now,
	// either way.
	ClockSkew time.Duration
}

// Key is one of a group's keys.
type Key struct {
	// ID is the key id v2 datagrams name it by.
	ID uint8
	// Key verifies announcements; safe for concurrent use.
	Key *protocol.Key
}

// Observer is the group state accepted announcements go to
// (*group.Registry). Apply takes the time the batch was read, so the
// clock is read once per batch rather than once per datagram.
type Observer interface {
	Apply(group uint64, a group.Announcement, now time.Time) (group.Result, error)
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
	nkeys  int      // the keys of every group; see entry.keyBase
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
		keys, err := groupKeys(g)
		if err != nil {
			return nil, err
		}
		if g.ClockSkew < 0 {
			return nil, fmt.Errorf("group %d: negative clock skew %v", g.ID, g.ClockSkew)
		}
		e := entry{Group: g, keys: keys, index: len(t.order), keyBase: t.nkeys}
		t.nkeys += len(keys)
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

// groupKeys is g's keys, Key (id 0) first; an error names the group and the
// key id at fault.
func groupKeys(g Group) ([]Key, error) {
	keys := make([]Key, 0, 1+len(g.Keys))
	if g.Key != nil {
		keys = append(keys, Key{ID: 0, Key: g.Key})
	}
	for _, k := range g.Keys {
		if k.Key == nil {
			return nil, fmt.Errorf("group %d: key %d: no key", g.ID, k.ID)
		}
		for _, o := range keys {
			if o.ID == k.ID {
				return nil, fmt.Errorf("group %d: key id %d given twice", g.ID, k.ID)
			}
		}
		keys = append(keys, k)
	}
	if len(keys) == 0 {
		return nil, fmt.Errorf("group %d: no key", g.ID)
	}
	return keys, nil
}

// entry is a configured group and its position in the configuration.
type entry struct {
	Group
	keys  []Key // Key (as id 0) and Keys, in that order
	index int
	// keyBase is the index of the group's first key among the table's
	// keys (its per-key counters).
	keyBase int
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
	t := w.p.table.Load()
	g, ok := t.groups[a.Group]
	if !ok {
		return w.drop(ReasonUnknownGroup, d)
	}
	ki := -1
	if a.V2() {
		for i := range g.keys {
			if g.keys[i].ID == a.KeyID {
				ki = i
				break
			}
		}
		if ki < 0 {
			return w.drop(ReasonUnknownKey, d)
		}
		if g.keys[ki].Key.Verify(d) != nil {
			return w.drop(ReasonMAC, d)
		}
	} else {
		for i := range g.keys {
			if g.keys[i].Key.Verify(d) == nil {
				ki = i
				break
			}
		}
		if ki < 0 {
			return w.drop(ReasonMAC, d)
		}
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
	res, err := w.p.obs.Apply(a.Group, group.Announcement{Addr: a.Addr, Port: a.Port, Weight: a.Weight, Leave: a.Leave, Timestamp: ts}, now)
	if err != nil {
		return w.drop(observeReason(err), d)
	}
	if res == group.Replayed {
		return w.drop(ReasonReplay, d)
	}
	w.accepted.Add(1)
	w.countGroup(t, g.index, g.keyBase+ki)
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
const resultSlots = int(group.Left) + 1

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
	sum := p.acceptedSum()
	out := make([]GroupCount, len(sum.t.order))
	for i, id := range sum.t.order {
		out[i] = GroupCount{ID: id, Accepted: sum.n[i].Load()}
	}
	return out
}

// KeyCount is the count of accepted announcements of one key of a group.
type KeyCount struct {
	Group    uint64
	Key      uint8
	Accepted uint64
}

// AcceptedByKey returns the accepted announcements of every key of every
// group in the current table, summed over the workers: groups in
// configuration order, each group's key 0 (psk) first, then its keys in
// configuration order. A key that stays in a group that stays (same ids)
// across SetGroups keeps its count.
func (p *Pipeline) AcceptedByKey() []KeyCount {
	sum := p.acceptedSum()
	out := make([]KeyCount, 0, sum.t.nkeys)
	for _, id := range sum.t.order {
		e := sum.t.groups[id]
		for x, k := range e.keys {
			out = append(out, KeyCount{Group: id, Key: k.ID, Accepted: sum.k[e.keyBase+x].Load()})
		}
	}
	return out
}

// acceptedSum returns the workers' accepted counters summed over the
// current table.
func (p *Pipeline) acceptedSum() *groupCounts {
	p.mu.Lock()
	defer p.mu.Unlock()
	sum := newGroupCounts(p.table.Load())
	for _, w := range p.workers {
		sum.add(w.byGroup.Load())
	}
	return sum
}

// groupCounts are a worker's accepted counters for the groups of one table,
// indexed by entry.index, and for their keys, indexed by entry.keyBase
// plus the key's index in entry.keys.
type groupCounts struct {
	t *table
	n []atomic.Uint64
	k []atomic.Uint64
}

func newGroupCounts(t *table) *groupCounts {
	return &groupCounts{t: t, n: make([]atomic.Uint64, len(t.order)), k: make([]atomic.Uint64, t.nkeys)}
}

// countGroup counts an accepted announcement of the group at index i of t,
// verified by the key at index k of the table's keys. The first one a
// worker counts under a new table moves its counters over (allocating once
// per worker and SetGroups, never in the steady state).
func (w *Worker) countGroup(t *table, i, k int) {
	c := w.byGroup.Load()
	if c.t != t {
		next := newGroupCounts(t)
		next.add(c)
		w.byGroup.Store(next)
		c = next
	}
	c.n[i].Add(1)
	c.k[k].Add(1)
}

// add adds to s the counts c holds for the groups and keys of s's table
// (those c's table holds too, with the same id and generation).
func (s *groupCounts) add(c *groupCounts) {
	for j, id := range s.t.order {
		e := s.t.groups[id]
		s.n[j].Add(c.count(e))
		for x, key := range e.keys {
			s.k[e.keyBase+x].Add(c.keyCount(e, key.ID))
		}
	}
}

// keyCount is c's count for key id of group e: 0 unless c's table holds
// the same group (id and generation) with a key of that id.
func (c *groupCounts) keyCount(e entry, id uint8) uint64 {
	o, ok := c.t.groups[e.ID]
	if !ok || o.gen != e.gen {
		return 0
	}
	for x, k := range o.keys {
		if k.ID == id {
			return c.k[o.keyBase+x].Load()
		}
	}
	return 0
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
