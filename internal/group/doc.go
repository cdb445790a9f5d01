// Package group holds the listener's redundancy-group state: which addresses
// are alive in each group and until when, whether each group is ready, and a
// stream of changes for the output plugins.
//
// # Members and expiry
//
// A member is keyed by its address (IPv4 always in unmapped form) and port
// (0 for protocol v1): one address announced on two ports is two members.
// Its weight is not part of its identity. An accepted announcement keeps the
// member until timestamp+expire, and a later announcement can only move that
// point forward: replayed or reordered datagrams never shorten a member's
// life. An announcement whose expiry is already in the past is ignored, so a
// late datagram cannot resurrect a member for an instant.
//
// # Anti-replay and leaves
//
// Each member keeps a high-water mark, the newest timestamp it was seen
// with; an announcement not newer than it is Replayed and changes nothing.
// A leave announcement newer than the mark removes the member at once (a
// Leave event). Its mark is then kept for twice the group's clock skew, so
// no announcement captured before the leave can add the member again (by
// then the listener's skew check refuses all of them); the marks of left
// members are forgotten by the sweep loop, so their memory is bounded by
// the leave rate. See [Registry.Apply].
//
// Ingest refreshes members far more often than they expire, so the refresh is
// the path that must be cheap: one lookup in the member index (index.go: one
// open-addressing table for all groups, 4 bytes an entry, keys read back from
// the member slab) and a compare under the registry lock, no heap work and no
// allocation. Expiry is found by a lazy min-heap: each
// member has exactly one heap entry whose deadline is at most its true expiry.
// A background loop, ticking every [SweepInterval], pops entries that are due;
// if the member was refreshed meanwhile the entry is pushed down to the new
// expiry, otherwise the member leaves. The loop therefore only touches members
// that are due (at most one heap fix per member per expire period) and never
// scans the whole membership, and a Leave is published at most one tick after
// the expiry.
//
// Announcements every few microseconds would otherwise turn into as many
// "expiry moved" messages for every plugin. An Expiry event is published only
// when a member's expiry has advanced by at least the configured granularity
// since the last value published for it. A consumer's copy of an expiry is thus
// never later than the truth, and at most one granularity earlier.
//
// # Fan-out: one ring, one cursor per subscriber
//
// Output plugins are slow and may hang; ingest must never wait for them, and
// the cost of publishing must not grow with the number of plugins. So every
// change is appended, under the registry lock, to a single ring buffer of
// events numbered by a monotonically increasing sequence number. A
// [Subscription] is just a cursor into that ring plus a group filter; reading
// copies the pending events out under the lock. Publishing is O(1): write one
// ring slot, and wake only the subscribers that caught up and are waiting (each
// such subscriber is woken once per read it made, not once per event).
//
// Nothing is queued per subscriber, so a subscriber that stops reading costs
// nothing. When the writer has gone around the ring past a subscriber's cursor
// ("lapped"), the events it missed are gone; its next read reports resync, and
// it calls [Subscription.Resync], which copies the current state of its groups
// and moves its cursor to the head of the ring in the same critical section.
// The snapshot plus the events after it are therefore exactly the registry's
// history from then on: nothing is lost or applied twice. This is how a slow
// plugin's backlog collapses into one newer snapshot instead of growing without
// bound, and a new subscriber starts the same way (its first read reports
// resync).
//
// # Reloading the group list
//
// [Registry.Reconfigure] applies a new group list in place: a group that
// stays keeps its members, readiness and counters (no event for them), an
// added one starts empty with its readiness delay, and a removed one
// publishes a Leave for each member and is gone. Ring records name their
// group by a slot that never moves: a removed group's slot stays as a
// tombstone, so a subscriber still reading older events gets them with the
// right group id, and an id added again gets its old slot back as a fresh
// group. Observe reads the group list through an atomic pointer, without
// the lock, and rechecks under the lock that the group was not removed
// meanwhile.
//
// # Time
//
// All time comes from an injected [Clock] so tests can drive expiry and
// readiness without sleeping; [FakeClock] is exported for the tests of the
// packages built on this one.
package group
