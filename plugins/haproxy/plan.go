package haproxy

import (
	"net/netip"
	"strconv"
	"strings"

	"github.com/rgap-project/rgap/sdk"
)

// target is a server the output wants in a backend: one live member.
type target struct {
	addr   netip.Addr
	port   uint16 // 0: keep the server's port (slots mode, no port known)
	weight int    // HAProxy weight 0-256; -1: leave the server's weight alone
}

// weightOn is the weight server s must have for t: t's, or the weight
// HAProxy's configuration gives s when t has none (so a slot does not keep
// the weight of the member that held it before).
func (t target) weightOn(s *server) int {
	if t.weight < 0 {
		return s.iweight
	}
	return t.weight
}

// key identifies a target across syncs.
type key struct {
	addr netip.Addr
	port uint16
}

func (t target) key() key { return key{t.addr, t.port} }

// targets turns a group's members into the servers a mapping wants: the
// member's port, else the mapping's; the member's weight scaled to HAProxy's
// range (see scaleWeights), else -1. Two members that end up at the same
// address and port are one server.
func targets(m *mapping, members []sdk.Member) []target {
	out := make([]target, 0, len(members))
	maxW := uint16(0)
	for _, mb := range members {
		maxW = max(maxW, mb.Weight)
	}
	seen := make(map[key]struct{}, len(members))
	for _, mb := range members {
		t := target{addr: mb.Addr.WithZone(""), port: mb.Port, weight: scaleWeight(mb.Weight, maxW)}
		if t.port == 0 {
			t.port = m.port
		}
		if _, dup := seen[t.key()]; dup {
			continue
		}
		seen[t.key()] = struct{}{}
		out = append(out, t)
	}
	return out
}

// scaleWeight maps an announced weight (1-65535; 0: none) to HAProxy's
// 1-256, given the largest weight in the group. While every weight is at
// most 256 it is used as it is; beyond, all are scaled by 256/max, so the
// members' shares stay what they announced. A weight that is given never
// becomes 0 (HAProxy's "no traffic").
func scaleWeight(w, maxW uint16) int {
	switch {
	case w == 0:
		return -1
	case maxW <= 256:
		return int(w)
	}
	return max(1, (int(w)*256+int(maxW)/2)/int(maxW))
}

// slotTable remembers which member holds which slot of a server-template,
// and which member held a free slot last, so that a member that returns
// gets its old slot back when nobody took it meanwhile.
type slotTable struct {
	holder map[string]key // slot name -> member holding it
	last   map[string]key // free slot name -> member that held it last
}

func newSlotTable() *slotTable {
	return &slotTable{holder: map[string]key{}, last: map[string]key{}}
}

// isSlot reports whether name is one of the template's servers: the prefix
// followed by a number.
func isSlot(prefix, name string) bool {
	n, ok := strings.CutPrefix(name, prefix)
	if !ok || n == "" {
		return false
	}
	_, err := strconv.ParseUint(n, 10, 32)
	return err == nil && n[0] != '+'
}

// planSlots assigns the targets to the template's slots (servers, as read
// from HAProxy, in their order) and returns the commands that make HAProxy
// match, and how many targets found no free slot.
func (st *slotTable) planSlots(m *mapping, want []target, servers []server) ([]command, int) {
	live := map[key]target{}
	for _, t := range want {
		live[t.key()] = t
	}
	exists := map[string]bool{}
	for _, s := range servers {
		exists[s.name] = true
	}
	held := map[key]string{}
	for slot, k := range st.holder {
		if _, ok := live[k]; !ok || !exists[slot] {
			delete(st.holder, slot)
			st.last[slot] = k
			continue
		}
		held[k] = slot
	}
	st.adopt(want, servers, held)
	waiting := 0
	for _, t := range want {
		if _, ok := held[t.key()]; ok {
			continue
		}
		slot := st.freeSlot(t.key(), servers)
		if slot == "" {
			waiting++
			continue
		}
		st.holder[slot] = t.key()
		delete(st.last, slot)
		held[t.key()] = slot
	}
	var cmds []command
	for _, s := range servers {
		c := command{backend: m.backend, server: s.name}
		k, ok := st.holder[s.name]
		if !ok {
			if s.ready() {
				c.op = opMaint
				cmds = append(cmds, c)
			}
			continue
		}
		t := live[k]
		if a, err := netip.ParseAddr(s.addr); err != nil || a != t.addr || (t.port != 0 && s.port != t.port) {
			c.op, c.addr, c.port = opAddr, t.addr, t.port
			cmds = append(cmds, c)
		}
		if w := t.weightOn(&s); s.weight != w {
			c.op, c.weight = opWeight, w
			cmds = append(cmds, c)
		}
		if !s.ready() {
			c.op = opReady
			cmds = append(cmds, c)
		}
	}
	return cmds, waiting
}

// adopt gives a target without a slot the free slot that HAProxy already
// points at it (ready or in maintenance), so that a restart of the output
// or of the listener, which forgets the table, moves no member. held maps
// the targets with a slot to it and is updated.
func (st *slotTable) adopt(want []target, servers []server, held map[key]string) {
	unplaced := map[key]bool{}
	for _, t := range want {
		if _, ok := held[t.key()]; !ok {
			unplaced[t.key()] = true
		}
	}
	if len(unplaced) == 0 {
		return
	}
	for _, s := range servers {
		if _, taken := st.holder[s.name]; taken {
			continue
		}
		a, err := netip.ParseAddr(s.addr)
		if err != nil {
			continue
		}
		for _, k := range []key{{a, s.port}, {a, 0}} { // a target without a port matches any
			if unplaced[k] {
				delete(unplaced, k)
				st.holder[s.name] = k
				delete(st.last, s.name)
				held[k] = s.name
				break
			}
		}
	}
}

// freeSlot picks a slot for k: the free slot k held last, else a free slot
// nobody held since the output started, else any free slot; "" if none.
func (st *slotTable) freeSlot(k key, servers []server) string {
	var fresh, any string
	for _, s := range servers {
		if _, taken := st.holder[s.name]; taken {
			continue
		}
		prev, used := st.last[s.name]
		switch {
		case used && prev == k:
			return s.name
		case !used && fresh == "":
			fresh = s.name
		case any == "":
			any = s.name
		}
	}
	if fresh != "" {
		return fresh
	}
	return any
}

// dynamicName is the name of the server the output adds for t:
// PREFIX_ADDRESS_PORT (HAProxy accepts ':' in names, so IPv6 stays readable).
func dynamicName(prefix string, t target) string {
	return prefix + "_" + t.addr.String() + "_" + strconv.Itoa(int(t.port))
}

// isDynamic reports whether name is a server the output would add.
func isDynamic(prefix, name string) bool {
	return strings.HasPrefix(name, prefix+"_")
}

// planDynamic returns the commands that make the output's servers in the
// backend (servers, as read from HAProxy) exactly the targets: add and
// enable the missing ones, put the others in maintenance and delete them.
func planDynamic(m *mapping, want []target, servers []server) []command {
	have := map[string]*server{}
	for i := range servers {
		have[servers[i].name] = &servers[i]
	}
	var cmds []command
	wanted := map[string]bool{}
	for _, t := range want {
		name := dynamicName(m.prefix, t)
		wanted[name] = true
		c := command{backend: m.backend, server: name, addr: t.addr, port: t.port, weight: t.weight, check: m.check}
		s, ok := have[name]
		if !ok {
			c.op = opAdd
			cmds = append(cmds, c)
			if m.check {
				c.op = opHealth
				cmds = append(cmds, c)
			}
			c.op = opEnable
			cmds = append(cmds, c)
			continue
		}
		if a, err := netip.ParseAddr(s.addr); err != nil || a != t.addr || s.port != t.port {
			c.op = opAddr
			cmds = append(cmds, c)
		}
		if w := t.weightOn(s); s.weight != w {
			c.op, c.weight = opWeight, w
			cmds = append(cmds, c)
		}
		if !s.ready() {
			c.op = opEnable
			cmds = append(cmds, c)
		}
	}
	for _, s := range servers {
		if wanted[s.name] {
			continue
		}
		c := command{backend: m.backend, server: s.name}
		if s.ready() {
			c.op = opMaint
			cmds = append(cmds, c)
		}
		c.op = opDel
		cmds = append(cmds, c)
	}
	return cmds
}
