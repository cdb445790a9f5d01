package pluginhost

import (
	"time"

	"github.com/rgap-project/rgap/internal/group"
)

// Feed is the group state the host streams to plugins: the group
// registry (RegistryFeed), or a fake in tests. Members and events are the
// group package's own, up to the encoder (encode.go).
type Feed interface {
	// Subscribe starts a subscription to the groups for which filter returns
	// true. It must not block. The subscription's snapshots and events hold
	// those groups only: the host does not filter again.
	Subscribe(filter func(id uint64) bool) Subscription
}

// RegistryFeed is the Feed of a group registry.
func RegistryFeed(reg *group.Registry) Feed { return registryFeed{reg} }

type registryFeed struct{ reg *group.Registry }

func (f registryFeed) Subscribe(filter func(id uint64) bool) Subscription {
	return f.reg.Subscribe(filter)
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
	Next(buf []group.Event) (events []group.Event, lapped bool)
	// Resync returns the current state of the subscribed groups and moves
	// the cursor, atomically, so that the snapshot followed by every event
	// Next returns reproduces the feed's state.
	Resync() []group.GroupSnapshot
	// Close releases the subscription.
	Close()
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
