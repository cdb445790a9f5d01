package pluginhost

import (
	"net/netip"
	"time"
)

// Feed is the group state the host streams to plugins. Package groupfeed
// adapts the group registry to it.
type Feed interface {
	// Subscribe starts a subscription to the groups for which filter returns
	// true. It must not block.
	Subscribe(filter func(group uint64) bool) Subscription
}

// Subscription is one consumer's cursor into the feed's event ring. All
// methods must return without waiting for anything but a short lock: the
// host calls them from per-output goroutines and relies on ingestion never
// waiting for a slow consumer (the ring laps instead). The host uses a
// subscription from one goroutine at a time and calls Resync first.
type Subscription interface {
	// Notify returns a channel that receives (capacity 1, sent without
	// blocking) when events may be pending. Wake-ups may be spurious.
	Notify() <-chan struct{}
	// Next returns pending events in buf[:0], reusing its capacity. It may
	// return fewer events than are pending, even none, as long as Notify is
	// then already signalled. lapped is true when the consumer must call
	// Resync before reading on (the ring overwrote events it had not read).
	Next(buf []Event) (events []Event, lapped bool)
	// Resync returns the current state of the subscribed groups and moves
	// the cursor, atomically, so that the snapshot followed by every event
	// Next returns reproduces the feed's state.
	Resync() []GroupSnapshot
	// Close releases the subscription.
	Close()
}

// EventKind says what happened. The values equal the wire's EventType.
type EventKind uint8

const (
	// EventJoin: an address appeared in a group.
	EventJoin EventKind = iota + 1
	// EventLeave: an address expired and left a group.
	EventLeave
	// EventExpiry: a member's expiry moved forward.
	EventExpiry
	// EventReady: a group passed its readiness delay.
	EventReady
)

// Member is one live address of a group.
type Member struct {
	// Addr is the member's address; IPv4-mapped addresses are sent as IPv4.
	Addr netip.Addr
	// Port and Weight are the announced service port and weight; 0 when
	// not given (protocol v1).
	Port   uint16
	Weight uint16
	// Expires is when the address leaves unless it is announced again.
	Expires time.Time
}

// Event is one change of one group.
type Event struct {
	Kind EventKind
	// Group is the group's id.
	Group uint64
	// Member is zero for EventReady.
	Member Member
}

// GroupSnapshot is the full state of one group.
type GroupSnapshot struct {
	ID uint64
	// Ready: the group passed its readiness delay.
	Ready   bool
	Members []Member
}

// Output is one configured output, as the host needs it. It mirrors the
// configuration's output entry; the caller converts.
type Output struct {
	// Index is the zero-based position in the configuration's outputs list.
	Index int
	// Kind selects the plugin: a built-in kind or rgap-plugin-<kind>.
	Kind string
	// File and Line locate the output entry in the configuration, for
	// error messages.
	File string
	Line int
	// SHA256 pins an out-of-tree plugin file: 64 hexadecimal digits, or
	// empty for no pin. A pin on a built-in kind is refused.
	SHA256 string
	// Spec is the YAML text of the output's spec (may be empty).
	Spec []byte
	// SpecLine is the line in File where Spec starts (0 if unknown).
	SpecLine int
	// HangTimeout overrides Options.HangTimeout for this output when > 0.
	HangTimeout time.Duration
}

// GroupInfo describes a configured group for plugins. It has no key field on
// purpose: nothing a plugin receives may carry a PSK.
type GroupInfo struct {
	ID uint64
	// Expire is how long an announcement keeps an address alive.
	Expire time.Duration
	// ReadinessDelay is how long after start the group becomes ready.
	ReadinessDelay time.Duration
}
