package sdk

import (
	"fmt"
	"math"
	"net/netip"

	"github.com/rgap-project/rgap/internal/pluginproto"
	outputv1 "github.com/rgap-project/rgap/proto/rgap/output/v1"
)

// This file is the SDK's one conversion from the wire (package outputv1)
// to its own types. The host's counterpart is internal/pluginhost's
// encode.go.
//
// A host speaking protocol 2 sends snapshot members by column
// (GroupState.addresses, ports, weights, expires_unix_micros); one that
// predates it sends a list of Member messages (GroupState.members) and no
// ports or weights. Both are read, so a plugin built with this SDK runs
// under either host.

// eventKinds maps the wire's event types to the SDK's; a type missing here
// (from a newer host) maps to 0, which the stream ignores.
var eventKinds = map[outputv1.EventType]EventKind{
	outputv1.EventType_EVENT_TYPE_JOIN:   EventJoin,
	outputv1.EventType_EVENT_TYPE_LEAVE:  EventLeave,
	outputv1.EventType_EVENT_TYPE_EXPIRY: EventExpiry,
	outputv1.EventType_EVENT_TYPE_READY:  EventReady,
}

// eventFromWire converts an event; Kind 0 means an unknown type.
func eventFromWire(ev *outputv1.Event) (Event, error) {
	e := Event{Kind: eventKinds[ev.GetType()], Group: ev.GetGroup()}
	if e.Kind == 0 || e.Kind == EventReady {
		return e, nil
	}
	m := ev.GetMember()
	if m == nil {
		return Event{}, fmt.Errorf("group %d: %s event without a member", e.Group, ev.GetType())
	}
	var err error
	if e.Member, err = memberFromWire(m); err != nil {
		return Event{}, fmt.Errorf("group %d: %s event: member %w", e.Group, ev.GetType(), err)
	}
	return e, nil
}

// memberFromWire converts one Member message.
func memberFromWire(m *outputv1.Member) (Member, error) {
	a, err := pluginproto.AddrFromBytes(m.GetAddress())
	if err != nil {
		return Member{}, err
	}
	if m.GetPort() > math.MaxUint16 || m.GetWeight() > math.MaxUint16 {
		return Member{}, fmt.Errorf("%s: port %d or weight %d out of range 0..65535", a, m.GetPort(), m.GetWeight())
	}
	return Member{Addr: a, Port: uint16(m.GetPort()), Weight: uint16(m.GetWeight()),
		Expires: pluginproto.MicrosToTime(m.GetExpiresUnixMicros())}, nil
}

// wireGroup is one group of a snapshot whose chunks are still arriving.
// It keeps the chunks' decoded messages, which are the plugin's to keep
// once received, and converts them all at the last chunk, straight into a
// slice of the group's exact size. Staging members in a growing slice
// instead would copy a large group several times over (the snapshot does
// not say a group's size up front), each copy of pointerful memory paying
// write barriers while the collector runs, as it often does while a
// snapshot arrives.
type wireGroup struct {
	ready bool
	parts []*outputv1.GroupState
	n     int
}

// add keeps a chunk after checking it, so that a bad member is reported
// with the message that carried it.
func (g *wireGroup) add(gs *outputv1.GroupState) error {
	n, err := checkColumns(gs)
	if err != nil {
		return err
	}
	for _, m := range gs.GetMembers() {
		if _, err := memberFromWire(m); err != nil {
			return fmt.Errorf("member %w", err)
		}
	}
	n += len(gs.GetMembers())
	if n > 0 {
		g.parts = append(g.parts, gs)
		g.n += n
	}
	return nil
}

// checkColumns checks that a chunk's columns agree and returns how many
// members they hold.
func checkColumns(gs *outputv1.GroupState) (int, error) {
	n := len(gs.GetExpiresUnixMicros())
	if len(gs.GetAddresses()) != 16*n {
		return 0, fmt.Errorf("%d bytes of addresses for %d members: want 16 per member", len(gs.GetAddresses()), n)
	}
	for _, col := range []struct {
		name string
		vals []uint32
	}{{"ports", gs.GetPorts()}, {"weights", gs.GetWeights()}} {
		if len(col.vals) != 0 && len(col.vals) != n {
			return 0, fmt.Errorf("%d %s for %d members: want one per member or none", len(col.vals), col.name, n)
		}
		for i, v := range col.vals {
			if v > math.MaxUint16 {
				return 0, fmt.Errorf("member %d: %s value %d out of range 0..65535", i, col.name, v)
			}
		}
	}
	return n, nil
}

// finish converts the group's members, sorted by address and port.
func (g *wireGroup) finish() *stagedGroup {
	s := &stagedGroup{ready: g.ready}
	if g.n == 0 {
		return s
	}
	ms := make([]Member, 0, g.n)
	for _, part := range g.parts {
		for _, m := range part.GetMembers() {
			mem, _ := memberFromWire(m) // checked by add
			ms = append(ms, mem)
		}
		ms = appendColumns(ms, part)
	}
	s.members = sortMembers(ms, isSorted(ms))
	return s
}

// appendColumns appends the members of a chunk's columns, which add
// checked.
func appendColumns(ms []Member, gs *outputv1.GroupState) []Member {
	addrs, ports, weights := gs.GetAddresses(), gs.GetPorts(), gs.GetWeights()
	for i, exp := range gs.GetExpiresUnixMicros() {
		m := Member{
			Addr:    netip.AddrFrom16([16]byte(addrs[16*i : 16*i+16])).Unmap(),
			Expires: pluginproto.MicrosToTime(exp),
		}
		if len(ports) > 0 {
			m.Port = uint16(ports[i])
		}
		if len(weights) > 0 {
			m.Weight = uint16(weights[i])
		}
		ms = append(ms, m)
	}
	return ms
}

// isSorted reports whether ms ascend strictly by address and port, as the
// host sends them.
func isSorted(ms []Member) bool {
	for i := 1; i < len(ms); i++ {
		if compareMembers(ms[i-1], ms[i]) >= 0 {
			return false
		}
	}
	return true
}
