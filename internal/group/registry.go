package group

import (
	"context"
	"errors"
	"fmt"
	"math"
	"math/bits"
	"net/netip"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
)

// Defaults for [Options] fields left zero.
const (
	DefaultRingSize          = 65536
	DefaultExpiryGranularity = time.Second
)

// SweepInterval is how often the Run loop looks for expired members and due
// readiness. A Leave is published at most this long (plus the time to process
// the tick) after the member's expiry.
const SweepInterval = 50 * time.Millisecond

// sweepBatch bounds how many heap entries one sweep handles per lock hold, so
// a mass expiry does not stall ingest for the whole batch.
const sweepBatch = 4096

// Sentinel errors. Observe returns them unwrapped: it is on the per-packet
// path, the caller already knows the group and address, and wrapping would
// allocate for every bad packet.
var (
	// ErrUnknownGroup: Observe was given a group id that is not configured.
	ErrUnknownGroup = errors.New("unknown group")
	// ErrInvalidAddress: Observe was given the zero netip.Addr.
	ErrInvalidAddress = errors.New("invalid address")
	// ErrTimestampOutOfRange: the announcement's timestamp is more than
	// about a century from the Unix epoch and cannot be represented.
	ErrTimestampOutOfRange = errors.New("timestamp out of range")
	// ErrInvalidConfig: New was given an unusable group list or options.
	ErrInvalidConfig = errors.New("invalid group configuration")
	// ErrAlreadyRunning: Run was called while (or after) another Run.
	ErrAlreadyRunning = errors.New("group registry already running")
)

// Timestamps are accepted within ±2^32 s (about 136 years) of the epoch, so
// that converting to nanoseconds cannot overflow.
const maxTimestampSec = 1 << 32

// Config describes one redundancy group.
type Config struct {
	// ID is the group identifier carried in announcements.
	ID uint64
	// Expire is how long an address stays a member after the timestamp of
	// its latest announcement. Must be positive. An expiry past the year
	// 2262 (the end of int64 nanoseconds) is held as that end.
	Expire time.Duration
	// ReadinessDelay is how long after Run starts the group is reported
	// ready. Zero means ready at start; one reaching past the year 2262
	// means never.
	ReadinessDelay time.Duration
	// ClockSkew is the group's clock_skew: how long the anti-replay mark
	// of a member that left is kept (see Apply). Zero means Expire.
	ClockSkew time.Duration
}

// Options tune a Registry. The zero value is usable.
type Options struct {
	// Clock is the time source; nil means SystemClock().
	Clock Clock
	// RingSize is the number of events kept for subscribers; it is rounded
	// up to a power of two. A subscriber more than this many events behind
	// must resync. Zero means DefaultRingSize.
	RingSize int
	// ExpiryGranularity is the least forward movement of a member's expiry
	// that is published as an Expiry event. Zero means
	// DefaultExpiryGranularity.
	ExpiryGranularity time.Duration
	// Logger receives lifecycle messages; nil discards them.
	Logger hclog.Logger
}

// Registry is the state of all configured groups. Observe, Snapshot,
// Subscribe, Reconfigure and the Subscription methods are safe for
// concurrent use.
type Registry struct {
	clock       Clock
	log         hclog.Logger
	granularity int64

	// table is the group list in force. It is read without the lock (by
	// Observe and Groups) and replaced whole, under mu, by Reconfigure.
	table atomic.Pointer[table]

	running   atomic.Bool
	sweptUpTo atomic.Int64 // the `now` of the last completed sweep (unix ns); see LastSweep

	mu sync.Mutex
	// groups is indexed by slot, the group's index in ring records.
	// Slots are never shifted or reused for another id: a removed group's
	// slot stays as a tombstone (see reconfigure.go).
	groups     []group
	slots      map[uint64]uint32 // every group id ever configured -> its slot
	runStarted bool              // Run has started the readiness delays
	slab       slab              // member storage
	members    index             // (group slot, address, port) -> slot in slab
	expiry     expiryHeap
	ring       []record
	mask       uint64
	head       uint64          // sequence number the next event gets
	waiting    []*Subscription // subscribers caught up and waiting for a signal
}

type group struct {
	id      uint64
	expire  int64 // ns
	delay   int64 // ns
	startAt int64 // unix ns the readiness delay counts from; valid once started
	readyAt int64 // unix ns; valid once started
	started bool
	ready   bool
	removed bool // a tombstone: Reconfigure dropped the group
	count   int  // live members (in Registry.members)
	// skew is the group's clock skew (ns): how long a left member's
	// anti-replay mark is kept at least.
	skew int64
	// left holds the anti-replay marks of members that left by a leave
	// announcement, and lefts the same keys in the order they are due to
	// be forgotten (see sweepLeft).
	left  map[mkey]leftMark
	lefts []leftDue
	// joins and leaves count the group's Join and Leave events (see
	// Registry.Stats); they change only under Registry.mu, in emit.
	joins, leaves uint64
}

// member is one slab slot. 48 bytes, no padding, no pointer.
type member struct {
	addr      addr16
	expires   int64  // unix ns
	published int64  // expiry last published in a Join or Expiry event
	mark      int64  // the anti-replay high-water mark: the latest timestamp taken (unix ns)
	group     uint32 // the group's slot, or left or unused (see slab.go)
	port      uint16
	weight    uint16
}

// leftMark is the anti-replay mark of a member that left, kept until due.
type leftMark struct {
	mark, due int64 // unix ns
}

// leftDue is one entry of a group's queue of marks to forget.
type leftDue struct {
	due int64
	key mkey
}

// record is one ring slot: an Event in compact form (the sequence number is
// implied by the position, the group by its index). 32 bytes: the group
// slot and the kind share one word.
type record struct {
	expires int64
	addr    addr16
	gk      uint32 // group slot << 8 | EventKind
	port    uint16
	weight  uint16
}

// maxSlots bounds the number of group slots, which share a word with the
// event kind in a record.
const maxSlots = 1 << 24

func (rec *record) group() uint32   { return rec.gk >> 8 }
func (rec *record) kind() EventKind { return EventKind(rec.gk & 0xff) }

// table is one group list: immutable once published.
type table struct {
	configs []Config             // the live groups in configuration order
	order   []uint32             // their slots, in the same order
	index   map[uint64]liveGroup // live group id -> its slot and expire
}

type liveGroup struct {
	slot   uint32
	expire int64 // ns
}

// New returns a registry for the given groups. Group ids must be unique and
// each Expire positive; the error names the offending group.
func New(groups []Config, opts Options) (*Registry, error) {
	if opts.RingSize < 0 {
		return nil, fmt.Errorf("%w: ring size %d is negative", ErrInvalidConfig, opts.RingSize)
	}
	if opts.ExpiryGranularity < 0 {
		return nil, fmt.Errorf("%w: expiry granularity %s is negative", ErrInvalidConfig, opts.ExpiryGranularity)
	}
	if err := validate(groups); err != nil {
		return nil, err
	}
	r := &Registry{
		clock:       opts.Clock,
		log:         opts.Logger,
		granularity: int64(opts.ExpiryGranularity),
		groups:      make([]group, len(groups)),
		slots:       make(map[uint64]uint32, len(groups)),
		members:     newIndex(),
		head:        1,
	}
	if r.clock == nil {
		r.clock = SystemClock()
	}
	if r.log == nil {
		r.log = hclog.NewNullLogger()
	}
	if r.granularity == 0 {
		r.granularity = int64(DefaultExpiryGranularity)
	}
	size := opts.RingSize
	if size == 0 {
		size = DefaultRingSize
	}
	size = 1 << bits.Len(uint(size-1)) // round up to a power of two
	r.ring = make([]record, size)
	r.mask = uint64(size - 1)

	t := newTable(groups)
	for i, c := range groups {
		r.slots[c.ID] = uint32(i)
		t.add(c, uint32(i))
		r.groups[i] = group{
			id:     c.ID,
			expire: int64(c.Expire),
			delay:  int64(c.ReadinessDelay),
			skew:   skewOf(c),
		}
	}
	r.table.Store(t)
	return r, nil
}

// validate checks a group list for New and Reconfigure; the error names
// the offending group.
func validate(groups []Config) error {
	if len(groups) > maxSlots {
		return fmt.Errorf("%w: %d groups is too many", ErrInvalidConfig, len(groups))
	}
	seen := make(map[uint64]bool, len(groups))
	for _, c := range groups {
		if seen[c.ID] {
			return fmt.Errorf("%w: group %d: configured more than once", ErrInvalidConfig, c.ID)
		}
		seen[c.ID] = true
		if c.Expire <= 0 {
			return fmt.Errorf("%w: group %d: expire %s must be positive", ErrInvalidConfig, c.ID, c.Expire)
		}
		if c.ReadinessDelay < 0 {
			return fmt.Errorf("%w: group %d: readiness delay %s is negative", ErrInvalidConfig, c.ID, c.ReadinessDelay)
		}
	}
	return nil
}

func newTable(groups []Config) *table {
	return &table{
		configs: make([]Config, 0, len(groups)),
		order:   make([]uint32, 0, len(groups)),
		index:   make(map[uint64]liveGroup, len(groups)),
	}
}

// add appends group c, held in slot, to a table being built.
func (t *table) add(c Config, slot uint32) {
	t.configs = append(t.configs, c)
	t.order = append(t.order, slot)
	t.index[c.ID] = liveGroup{slot: slot, expire: int64(c.Expire)}
}

// Groups returns the configured groups in configuration order (after a
// Reconfigure, the new list in its order).
func (r *Registry) Groups() []Config { return slices.Clone(r.table.Load().configs) }

// Announcement is a verified announcement as the group state takes it.
type Announcement struct {
	// Addr is the announced address; an IPv4-mapped IPv6 address is stored
	// as IPv4, a zone is dropped.
	Addr netip.Addr
	// Port and Weight are the member's (protocol v2; 0 for v1). The port
	// is part of the member's identity, the weight is not.
	Port, Weight uint16
	// Leave: the sender leaves the group (protocol v2's leave flag).
	Leave bool
	// Timestamp is the sender's clock when it sent the announcement.
	Timestamp time.Time
}

// Observe records a verified v1 announcement of addr in group at timestamp
// (port and weight 0); see Apply.
func (r *Registry) Observe(groupID uint64, addr netip.Addr, timestamp time.Time) (Result, error) {
	return r.Apply(groupID, Announcement{Addr: addr, Timestamp: timestamp}, r.clock.Now())
}

// ObserveAt is Observe with the current time supplied by the caller; see
// Apply.
func (r *Registry) ObserveAt(groupID uint64, addr netip.Addr, timestamp, now time.Time) (Result, error) {
	return r.Apply(groupID, Announcement{Addr: addr, Timestamp: timestamp}, now)
}

// Apply records a verified announcement a of group at now, which the
// caller must have read from the registry's Clock (ingest reads the clock
// once per batch of datagrams for its skew check anyway; passing that time
// in saves a clock read per announcement, the largest part of a refresh's
// cost). It returns what changed; errors are the sentinels ErrUnknownGroup,
// ErrInvalidAddress and ErrTimestampOutOfRange, unwrapped (see their
// declaration). A refresh of an existing member does not allocate.
//
// Anti-replay: every member (address, port) has a high-water mark, the
// latest timestamp it was seen with. An announcement whose timestamp is
// not newer than the mark carries nothing new and changes nothing
// (Replayed). A leave (a.Leave) newer than the mark removes the member at
// once (a Leave event, Member.Expires the time it left) and its mark is
// kept at least twice the group's clock skew after that, so that no
// announcement captured before the leave can bring the member back: by
// then the skew check refuses every such timestamp. The mark of a member
// that expires is dropped with it: whatever came before its expiry is
// already too old to make it live (Stale).
//
// A weight change of a live member is published at once as an Expiry
// event carrying the new weight.
func (r *Registry) Apply(groupID uint64, a Announcement, now time.Time) (Result, error) {
	lg, ok := r.table.Load().index[groupID]
	if !ok {
		return 0, ErrUnknownGroup
	}
	addr := a.Addr
	if !addr.IsValid() {
		return 0, ErrInvalidAddress
	}
	addr = addr.Unmap()
	if addr.Zone() != "" {
		addr = addr.WithZone("")
	}
	sec := a.Timestamp.Unix()
	if sec < -maxTimestampSec || sec > maxTimestampSec {
		return 0, ErrTimestampOutOfRange
	}
	// The expire is read from the table before locking, so that a stale
	// announcement costs no lock; under the lock it is checked against
	// the group's current one, which a Reconfigure may have changed.
	ts := a.Timestamp.UnixNano()
	expires := addSat(ts, lg.expire)
	nowNs := now.UnixNano()
	if expires <= nowNs && !a.Leave {
		return Stale, nil
	}

	r.mu.Lock()
	gi := lg.slot
	g := &r.groups[gi]
	if g.removed {
		r.mu.Unlock()
		return 0, ErrUnknownGroup
	}
	if g.expire != lg.expire {
		if expires = addSat(ts, g.expire); expires <= nowNs && !a.Leave {
			r.mu.Unlock()
			return Stale, nil
		}
	}
	key := mkey{addr: toAddr16(addr), port: a.Port}
	slot, ok := r.members.get(&r.slab, ikey{group: gi, mk: key})
	if !ok {
		res := r.absent(g, gi, key, a, ts, expires, nowNs)
		r.mu.Unlock()
		return res, nil
	}
	m := r.slab.at(slot)
	if ts <= m.mark {
		r.mu.Unlock()
		return Replayed, nil
	}
	m.mark = ts
	if a.Leave {
		r.leave(g, gi, key, slot, ts, nowNs)
		r.mu.Unlock()
		return Left, nil
	}
	if m.expires <= nowNs {
		// Expired, but the sweep has not got to it yet: it left at its
		// expiry and joins again now. Its heap entry stays valid because
		// its deadline is at most the old expiry.
		r.emit(Leave, gi, key, m.weight, m.expires)
		m.expires = expires
		m.published = expires
		m.weight = a.Weight
		r.emit(Join, gi, key, m.weight, expires)
		r.mu.Unlock()
		return Joined, nil
	}
	if expires <= m.expires && a.Weight == m.weight {
		r.mu.Unlock()
		return Outdated, nil
	}
	if expires > m.expires {
		m.expires = expires
	}
	if a.Weight != m.weight || m.expires-m.published >= r.granularity {
		m.weight = a.Weight
		m.published = m.expires
		r.emit(Expiry, gi, key, m.weight, m.expires)
	}
	r.mu.Unlock()
	return Refreshed, nil
}

// absent handles an announcement of key, which is not a member of g. r.mu
// must be held.
func (r *Registry) absent(g *group, gi uint32, key mkey, a Announcement, ts, expires, now int64) Result {
	if lm, ok := g.left[key]; ok {
		if ts <= lm.mark {
			return Replayed
		}
		if !a.Leave {
			delete(g.left, key) // its queue entry finds nothing to forget
		}
	}
	if a.Leave {
		// Nothing to remove, but the mark stops a captured announcement
		// from before the leave adding the member.
		r.markLeft(g, key, ts, now)
		return Left
	}
	r.join(g, gi, key, a.Weight, ts, expires)
	return Joined
}

// leave removes the member in slot at once, for a leave announcement with
// timestamp ts. r.mu must be held.
func (r *Registry) leave(g *group, gi uint32, key mkey, slot uint32, ts, now int64) {
	m := r.slab.at(slot)
	r.emit(Leave, gi, key, m.weight, now)
	r.members.remove(&r.slab, slot)
	g.count--
	// The slot keeps its heap entry (every slot has exactly one) and is
	// released when the sweep pops it.
	m.group = left
	r.markLeft(g, key, ts, now)
}

// markLeft keeps mark as key's anti-replay mark until 2×skew from now: the
// mark is at most skew ahead of now (the skew check let it in), so by then
// the skew check refuses every timestamp up to it. r.mu must be held.
func (r *Registry) markLeft(g *group, key mkey, mark, now int64) {
	if g.left == nil {
		g.left = make(map[mkey]leftMark)
	}
	due := addSat(now, 2*g.skew)
	if lm, ok := g.left[key]; ok && lm.mark > mark {
		mark = lm.mark
	}
	g.left[key] = leftMark{mark: mark, due: due}
	g.lefts = append(g.lefts, leftDue{due: due, key: key})
}

// sweepLeft forgets the marks of left members that are due at now. r.mu
// must be held.
func (g *group) sweepLeft(now int64) {
	n := 0
	for n < len(g.lefts) && g.lefts[n].due <= now {
		k := g.lefts[n].key
		if lm, ok := g.left[k]; ok && lm.due <= now {
			delete(g.left, k)
		}
		n++
	}
	if n > 0 {
		g.lefts = append(g.lefts[:0], g.lefts[n:]...)
	}
}

// LeftMarks returns the number of anti-replay marks of left members the
// registry holds (they are forgotten 2×clock_skew after the leave).
func (r *Registry) LeftMarks() int {
	r.mu.Lock()
	defer r.mu.Unlock()
	n := 0
	for i := range r.groups {
		n += len(r.groups[i].left)
	}
	return n
}

// join adds a member. r.mu must be held.
func (r *Registry) join(g *group, gi uint32, key mkey, weight uint16, mark, expires int64) {
	slot := r.slab.alloc()
	*r.slab.at(slot) = member{addr: key.addr, port: key.port, weight: weight, mark: mark, expires: expires, published: expires, group: gi}
	r.members.put(&r.slab, slot)
	g.count++
	r.expiry.push(newHeapEntry(expires, slot))
	r.emit(Join, gi, key, weight, expires)
}

// emit appends an event to the ring and wakes waiting subscribers. r.mu must
// be held. Its cost does not depend on the number of subscribers: only those
// that have caught up and are waiting are signalled, each once per read.
func (r *Registry) emit(kind EventKind, gi uint32, key mkey, weight uint16, expires int64) {
	r.ring[r.head&r.mask] = record{gk: gi<<8 | uint32(kind), addr: key.addr, port: key.port, weight: weight, expires: expires}
	r.head++
	switch kind {
	case Join:
		r.groups[gi].joins++
	case Leave:
		r.groups[gi].leaves++
	}
	if len(r.waiting) > 0 {
		r.wake()
	}
}

func (r *Registry) wake() {
	for i, s := range r.waiting {
		s.armed = false
		select {
		case s.notify <- struct{}{}:
		default:
		}
		r.waiting[i] = nil
	}
	r.waiting = r.waiting[:0]
}

// Run publishes readiness and expiries until ctx is done, then returns nil.
// Readiness delays count from the call to Run (for a group a later
// Reconfigure adds, from that call). Observe may be called before
// Run; members observed then expire once Run is running. Run may be called
// only once per Registry.
func (r *Registry) Run(ctx context.Context) error {
	if !r.running.CompareAndSwap(false, true) {
		return ErrAlreadyRunning
	}
	ticker := r.clock.NewTicker(SweepInterval)
	defer ticker.Stop()

	start := r.clock.Now().UnixNano()
	r.mu.Lock()
	r.runStarted = true
	for i := range r.groups {
		g := &r.groups[i]
		if g.removed {
			continue
		}
		g.started = true
		g.startAt = start
		g.readyAt = addSat(start, g.delay)
	}
	n := len(r.table.Load().configs)
	r.mu.Unlock()
	r.log.Debug("group registry running", "groups", n, "sweep_interval", SweepInterval)

	r.sweep(start)
	for {
		select {
		case <-ctx.Done():
			r.log.Debug("group registry stopped")
			return nil
		case <-ticker.C():
			r.sweep(r.clock.Now().UnixNano())
		}
	}
}

// LastSweep returns the clock time of the latest completed sweep (0 before
// Run's first). Run sweeps every SweepInterval under the lock that ingest
// takes, so a value that stops changing means the registry is wedged; the
// listener's watchdog health check reads it.
func (r *Registry) LastSweep() int64 { return r.sweptUpTo.Load() }

// sweep publishes due readiness and removes members expired at now.
func (r *Registry) sweep(now int64) {
	var readied []uint64 // logged after unlocking: a slow log sink must not stall ingest
	r.mu.Lock()
	for i := range r.groups {
		g := &r.groups[i]
		if g.started && !g.ready && g.readyAt <= now {
			g.ready = true
			r.emit(Ready, uint32(i), mkey{}, 0, 0)
			readied = append(readied, g.id)
		}
		g.sweepLeft(now)
	}
	for {
		n := 0
		for len(r.expiry) > 0 && r.expiry[0].deadline() <= now && n < sweepBatch {
			n++
			slot := r.expiry[0].slot
			m := r.slab.at(slot)
			if m.group == left {
				// Left by a leave announcement: already published.
				r.expiry.pop()
				r.slab.release(slot)
				continue
			}
			if m.expires > now {
				r.expiry.fixTop(m.expires) // refreshed since it was scheduled
				continue
			}
			r.expiry.pop()
			key := mkey{addr: m.addr, port: m.port}
			r.emit(Leave, m.group, key, m.weight, m.expires)
			r.members.remove(&r.slab, slot)
			r.groups[m.group].count--
			r.slab.release(slot)
		}
		if len(r.expiry) == 0 || r.expiry[0].deadline() > now {
			break
		}
		// Let ingest in between batches of a mass expiry.
		r.mu.Unlock()
		r.mu.Lock()
	}
	r.mu.Unlock()
	for _, id := range readied {
		r.log.Info("group ready", "group", id)
	}
	r.sweptUpTo.Store(now)
}

// Snapshot returns the state of the groups accepted by filter (nil: all), in
// configuration order, members sorted by address. filter is called with the
// registry lock held: it must be quick and must not call the Registry.
func (r *Registry) Snapshot(filter func(id uint64) bool) []GroupSnapshot {
	r.mu.Lock()
	snap := r.snapshotLocked(r.wantLocked(filter, nil))
	r.mu.Unlock()
	sortSnapshot(snap)
	return snap
}

// StateSnapshot is Snapshot with each group's anti-replay marks
// (GroupSnapshot.Marks): those of its live members and those kept after a
// leave, sorted like members. It is what a state file saves, so that a
// restarted listener still refuses a captured announcement of a member
// that left (see Restore).
func (r *Registry) StateSnapshot(filter func(id uint64) bool) []GroupSnapshot {
	r.mu.Lock()
	want := r.wantLocked(filter, nil)
	snap := r.snapshotLocked(want)
	pos := make(map[uint32]int, len(snap)) // group slot -> index in snap
	for i := range snap {
		gi := r.table.Load().index[snap[i].ID].slot
		pos[gi] = i
		g := &r.groups[gi]
		snap[i].Marks = make([]Mark, 0, g.count+len(g.left))
		for key, lm := range g.left {
			snap[i].Marks = append(snap[i].Marks, Mark{Addr: key.addr.addr(), Port: key.port, Timestamp: unixTime(lm.mark), Until: unixTime(lm.due)})
		}
	}
	for _, m := range r.slab.members() {
		if i, ok := pos[m.group]; ok {
			snap[i].Marks = append(snap[i].Marks, Mark{Addr: m.addr.addr(), Port: m.port, Timestamp: unixTime(m.mark)})
		}
	}
	r.mu.Unlock()
	sortSnapshot(snap)
	for _, gs := range snap {
		slices.SortFunc(gs.Marks, func(a, b Mark) int {
			return compareMembers(Member{Addr: a.Addr, Port: a.Port}, Member{Addr: b.Addr, Port: b.Port})
		})
	}
	return snap
}

// wantLocked extends want, indexed by slot, to every slot, evaluating
// filter once for each slot it adds. r.mu must be held.
func (r *Registry) wantLocked(filter func(id uint64) bool, want []bool) []bool {
	for len(want) < len(r.groups) {
		want = append(want, filter == nil || filter(r.groups[len(want)].id))
	}
	return want
}

// snapshotLocked copies the wanted live groups in configuration order. r.mu
// must be held and want cover every slot; sorting is left to sortSnapshot,
// after the lock is released. It reads the whole member slab once, in
// order, whichever groups are wanted.
func (r *Registry) snapshotLocked(want []bool) []GroupSnapshot {
	var out []GroupSnapshot
	pos := make([]int, len(r.groups)) // group slot -> 1 + its index in out; 0: not wanted
	for _, i := range r.table.Load().order {
		if !want[i] {
			continue
		}
		g := &r.groups[i]
		out = append(out, GroupSnapshot{ID: g.id, Ready: g.ready, Members: make([]Member, 0, g.count)})
		pos[i] = len(out)
	}
	if len(out) == 0 {
		return out
	}
	for _, m := range r.slab.members() {
		if p := pos[m.group]; p > 0 {
			gs := &out[p-1]
			gs.Members = append(gs.Members, Member{Addr: m.addr.addr(), Port: m.port, Weight: m.weight, Expires: unixTime(m.expires)})
		}
	}
	return out
}

func sortSnapshot(snap []GroupSnapshot) {
	for _, gs := range snap {
		slices.SortFunc(gs.Members, compareMembers)
	}
}

// compareMembers orders members by address, then port: a snapshot's order.
func compareMembers(a, b Member) int {
	if c := a.Addr.Compare(b.Addr); c != 0 {
		return c
	}
	return int(a.Port) - int(b.Port)
}

// skewOf is c's clock skew in ns: Expire when unset.
func skewOf(c Config) int64 {
	if c.ClockSkew > 0 {
		return int64(c.ClockSkew)
	}
	return int64(c.Expire)
}

// addSat returns t+d for a unix time t and a duration d >= 0 (both ns),
// saturating at math.MaxInt64 (the year 2262) rather than wrapping into the
// past: an expire or readiness delay of centuries means "never" here.
func addSat(t, d int64) int64 {
	if t > math.MaxInt64-d {
		return math.MaxInt64
	}
	return t + d
}

func unixTime(ns int64) time.Time { return time.Unix(0, ns).UTC() }
