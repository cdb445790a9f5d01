package group

import (
	"fmt"
	"net/netip"
	"time"
)

// EventKind says what changed in a group.
type EventKind int

const (
	// Join: an address appeared in the group (for the first time, or again
	// after it left). Member.Expires is its expiry.
	Join EventKind = iota + 1
	// Leave: a member left the group: it expired (Member.Expires is the
	// expiry it left at) or it sent a leave (Member.Expires is when the
	// listener took the leave).
	Leave
	// Expiry: a member's expiry moved forward, or its weight changed. The
	// event carries the member's current Port, Weight and Expires: a
	// consumer replaces its copy of the member (Addr, Port) with it.
	// Published when the expiry moved by at least the registry's expiry
	// granularity since the last Join or Expiry event for that member, and
	// at once when the weight changed.
	Expiry
	// Ready: the group's readiness delay has passed. Member is zero.
	Ready
)

var eventKindNames = [...]string{Join: "join", Leave: "leave", Expiry: "expiry", Ready: "ready"}

// String returns the lower-case name of the kind.
func (k EventKind) String() string { return enumName(eventKindNames[:], "EventKind", k) }

// enumName returns names[v], or type(v) for a value that has no name.
func enumName[T ~int](names []string, typ string, v T) string {
	if v >= 0 && int(v) < len(names) && names[v] != "" {
		return names[v]
	}
	return fmt.Sprintf("%s(%d)", typ, int(v))
}

// Member is one live (address, port) of a group and the time it expires
// unless it is announced again. Protocol v1 announcements carry no port and
// no weight: their members have Port 0 and Weight 0. Two announcements of the
// same address with different ports are two members.
type Member struct {
	Addr netip.Addr
	// Port is the service port the member announced; 0 means none.
	Port uint16
	// Weight is the member's announced weight; 0 means none given (v1),
	// which outputs treat as the default weight.
	Weight  uint16
	Expires time.Time
}

// Event is one change in one group. Seq numbers are assigned by the registry,
// start at 1 and increase by one per event across all groups, so a subscriber
// that filters groups sees gaps.
type Event struct {
	Seq    uint64
	Kind   EventKind
	Group  uint64
	Member Member
}

// String formats the event for logs and test failures.
func (e Event) String() string {
	if e.Kind == Ready {
		return fmt.Sprintf("#%d %s group=%d", e.Seq, e.Kind, e.Group)
	}
	return fmt.Sprintf("#%d %s group=%d addr=%s port=%d weight=%d expires=%s",
		e.Seq, e.Kind, e.Group, e.Member.Addr, e.Member.Port, e.Member.Weight,
		e.Member.Expires.Format(time.RFC3339Nano))
}

// GroupSnapshot is the full state of one group at one instant.
type GroupSnapshot struct {
	ID    uint64
	Ready bool
	// Members are sorted by address, then port. A member whose expiry has passed but
	// whose Leave the sweep loop has not published yet is still included, so
	// that a snapshot plus the events after it always agree.
	Members []Member
	// Marks are the group's anti-replay marks: only a snapshot taken with
	// [Registry.StateSnapshot] has them (to save them across a restart,
	// see [Registry.Restore]); Snapshot and subscriptions leave them nil.
	Marks []Mark
}

// Mark is the anti-replay high-water mark of one (address, port) of a
// group: the latest timestamp taken from it. The registry drops anything
// not newer as Replayed.
type Mark struct {
	Addr netip.Addr
	Port uint16
	// Timestamp is the latest timestamp taken (the sender's clock).
	Timestamp time.Time
	// Until is when the mark of a member that left by a leave is
	// forgotten; zero for a live member's mark, which lives as long as
	// the member.
	Until time.Time
}

// Result says what Observe did with an announcement. It is meant for counters
// and tests; all results other than Joined and Refreshed leave the state as it
// was.
type Result int

const (
	// Joined: the address was not a member (or had expired) and joined.
	Joined Result = iota + 1
	// Refreshed: the address was a member and its expiry moved forward.
	Refreshed
	// Outdated: the address is a member whose expiry is already at or past
	// this announcement's; nothing changed.
	Outdated
	// Stale: the announcement's expiry is already in the past; it was
	// ignored and did not create a member.
	Stale
	// Replayed: the announcement's timestamp is not newer than the
	// member's anti-replay mark (the latest it was seen with, kept for a
	// while after a leave); it carries nothing new and was ignored.
	Replayed
	// Left: a leave announcement removed the member (or, for one that was
	// not a member, set its anti-replay mark).
	Left
)

var resultNames = [...]string{
	Joined: "joined", Refreshed: "refreshed", Outdated: "outdated", Stale: "stale", Replayed: "replayed", Left: "left",
}

// String returns the lower-case name of the result.
func (r Result) String() string { return enumName(resultNames[:], "Result", r) }
