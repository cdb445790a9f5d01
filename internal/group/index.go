package group

import (
	"encoding/binary"
	"math/bits"
	"math/rand/v2"
)

// ikey is a member's key across the registry: its group slot, address and
// port.
type ikey struct {
	group uint32
	mk    mkey
}

// key returns the index key of a member of a group (not of a slot that is
// unused or whose member left).
func (m *member) key() ikey { return ikey{group: m.group, mk: mkey{addr: m.addr, port: m.port}} }

// index finds a member's slab slot from its key, for every group at once.
// It is an open-addressing hash table with linear probing whose entries are
// 4 bytes: the slot plus one in the low slotBits bits (0 is an empty
// entry) and, in the bits the slots do not need yet, a tag of the key's
// hash, so that a probe reads a member back from the slab to compare keys
// only when the tags match (at 1,000,000 members, 12 bits: one needless
// read in 4096). The table is kept between 3/8 and 3/4 full, 5.3 to 10.7
// bytes per member (a Go map per group took about 45). A removal shifts
// the entries after it back instead of leaving a tombstone, so probe
// lengths depend only on the load. The hash is seeded per registry (from
// math/rand/v2's unpredictable global source) so that announcements cannot
// be chosen to collide.
type index struct {
	seed     [4]uint64
	entries  []uint32 // tag<<slotBits | slot+1, or 0; the length is 0 or a power of two
	n        int      // entries in use
	slotBits uint     // bits for slot+1; the slab growing past them rebuilds the table
}

// minSlotBits is the least slotBits: the table is rebuilt when the slab
// reaches 16, 32, 64... slots.
const minSlotBits = 4

func newIndex() index {
	return index{seed: [4]uint64{rand.Uint64(), rand.Uint64(), rand.Uint64(), rand.Uint64()}, slotBits: minSlotBits}
}

// hash mixes the key's three words with the registry's secret seed, as
// the Go runtime's wyhash-based fallback hash does: two 64×64->128-bit
// multiplications.
func (ix *index) hash(k ikey) uint64 {
	a := binary.LittleEndian.Uint64(k.mk.addr[:8])
	b := binary.LittleEndian.Uint64(k.mk.addr[8:])
	c := uint64(k.group)<<16 | uint64(k.mk.port)
	return mix(a^ix.seed[0], b^ix.seed[1]) ^ mix(c^ix.seed[2], ix.seed[3])
}

func mix(a, b uint64) uint64 {
	hi, lo := bits.Mul64(a, b)
	return hi ^ lo
}

// tag is the entry's tag bits of hash h: its top bits (the position uses
// the low ones), placed above the slot bits.
func (ix *index) tag(h uint64) uint32 {
	return uint32(h>>(32+ix.slotBits)) << ix.slotBits
}

// get returns the slot of the member with key k.
func (ix *index) get(s *slab, k ikey) (uint32, bool) {
	if ix.n == 0 {
		return 0, false
	}
	h := ix.hash(k)
	tag, slotMask := ix.tag(h), uint32(1)<<ix.slotBits-1
	mask := uint64(len(ix.entries) - 1)
	for i := h & mask; ; i = (i + 1) & mask {
		e := ix.entries[i]
		if e == 0 {
			return 0, false
		}
		if e&^slotMask != tag {
			continue
		}
		slot := e&slotMask - 1
		if m := s.at(slot); m.addr == k.mk.addr && m.port == k.mk.port && m.group == k.group {
			return slot, true
		}
	}
}

// put adds slot, whose member's key must not be in the index yet.
func (ix *index) put(s *slab, slot uint32) {
	full := (ix.n+1)*4 > len(ix.entries)*3
	if full || uint64(slot)+1 >= 1<<ix.slotBits {
		size := len(ix.entries)
		if full {
			size *= 2
		}
		ix.rebuild(s, size, max(ix.slotBits, uint(bits.Len32(slot+1))))
	}
	ix.place(ix.hash(s.at(slot).key()), slot)
	ix.n++
}

// place stores slot at the first empty entry from its hash h on.
func (ix *index) place(h uint64, slot uint32) {
	mask := uint64(len(ix.entries) - 1)
	i := h & mask
	for ix.entries[i] != 0 {
		i = (i + 1) & mask
	}
	ix.entries[i] = ix.tag(h) | (slot + 1)
}

// rebuild places every entry again in a table of size entries (at least
// 16) with slotBits slot bits.
func (ix *index) rebuild(s *slab, size int, slotBits uint) {
	old, oldMask := ix.entries, uint32(1)<<ix.slotBits-1
	ix.entries = make([]uint32, max(16, size))
	ix.slotBits = slotBits
	for _, e := range old {
		if e != 0 {
			slot := e&oldMask - 1
			ix.place(ix.hash(s.at(slot).key()), slot)
		}
	}
}

// remove drops slot, found by its member's key, which must not have
// changed since put; it reports whether slot was there.
func (ix *index) remove(s *slab, slot uint32) bool {
	if ix.n == 0 || uint64(slot)+1 >= 1<<ix.slotBits {
		return false
	}
	slotMask := uint32(1)<<ix.slotBits - 1
	mask := uint64(len(ix.entries) - 1)
	i := ix.hash(s.at(slot).key()) & mask
	for ix.entries[i]&slotMask != slot+1 {
		if ix.entries[i] == 0 {
			return false
		}
		i = (i + 1) & mask
	}
	ix.entries[i] = 0
	ix.n--
	// Shift back every entry of the run after i that may move to the hole:
	// one whose home (hash position) is not cyclically within (i, j].
	for j := (i + 1) & mask; ix.entries[j] != 0; j = (j + 1) & mask {
		e := ix.entries[j]
		home := ix.hash(s.at(e&slotMask-1).key()) & mask
		if (j-home)&mask >= (j-i)&mask {
			ix.entries[i] = e
			ix.entries[j] = 0
			i = j
		}
	}
	return true
}
