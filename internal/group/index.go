package group

import (
	"encoding/binary"
	"hash/maphash"
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
// It is an open-addressing hash table with linear probing whose entries
// hold only the slot (plus one; 0 is an empty entry): a key is read back
// from the slab to compare it. An entry is 4 bytes and the table is kept
// between 3/8 and 3/4 full, 5.3 to 10.7 bytes per member (a Go map per
// group took about 45). A removal shifts the entries after it back instead
// of leaving a tombstone, so probe lengths depend only on the load. The
// hash is seeded per registry (hash/maphash) so that announcements cannot
// be chosen to collide.
type index struct {
	seed    maphash.Seed
	entries []uint32 // slot+1, or 0; the length is 0 or a power of two
	n       int      // entries in use
}

func newIndex() index { return index{seed: maphash.MakeSeed()} }

func (ix *index) hash(k ikey) uint64 {
	var b [22]byte
	copy(b[:16], k.mk.addr[:])
	binary.LittleEndian.PutUint16(b[16:], k.mk.port)
	binary.LittleEndian.PutUint32(b[18:], k.group)
	return maphash.Bytes(ix.seed, b[:])
}

// get returns the slot of the member with key k.
func (ix *index) get(s *slab, k ikey) (uint32, bool) {
	if ix.n == 0 {
		return 0, false
	}
	mask := uint64(len(ix.entries) - 1)
	for i := ix.hash(k) & mask; ; i = (i + 1) & mask {
		e := ix.entries[i]
		if e == 0 {
			return 0, false
		}
		if m := s.at(e - 1); m.addr == k.mk.addr && m.port == k.mk.port && m.group == k.group {
			return e - 1, true
		}
	}
}

// put adds slot, whose member's key must not be in the index yet.
func (ix *index) put(s *slab, slot uint32) {
	if (ix.n+1)*4 > len(ix.entries)*3 {
		ix.grow(s)
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
	ix.entries[i] = slot + 1
}

// grow doubles the table (to 16 entries from empty) and places every entry
// again.
func (ix *index) grow(s *slab) {
	old := ix.entries
	ix.entries = make([]uint32, max(16, 2*len(old)))
	for _, e := range old {
		if e != 0 {
			ix.place(ix.hash(s.at(e-1).key()), e-1)
		}
	}
}

// remove drops slot, found by its member's key, which must not have
// changed since put; it reports whether slot was there.
func (ix *index) remove(s *slab, slot uint32) bool {
	if ix.n == 0 {
		return false
	}
	mask := uint64(len(ix.entries) - 1)
	i := ix.hash(s.at(slot).key()) & mask
	for ix.entries[i] != slot+1 {
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
		home := ix.hash(s.at(e-1).key()) & mask
		if (j-home)&mask >= (j-i)&mask {
			ix.entries[i] = e
			ix.entries[j] = 0
			i = j
		}
	}
	return true
}
