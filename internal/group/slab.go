package group

import (
	"iter"
	"math"
)

// slab holds the members, each in a slot numbered from 0, in chunks of
// chunkSize members allocated as the membership grows. Growing never copies
// the members already held (growing one slice by doubling copied them all
// and briefly held both copies), a member's address never changes, and at
// most one chunk is partly unused beyond the free slots. member holds no
// pointer, so the chunks are memory the garbage collector never scans.
type slab struct {
	chunks []*[chunkSize]member
	n      uint32   // slots handed out so far: the slots below n are in use or free
	free   []uint32 // released slots, reused first
}

const (
	chunkBits = 10
	chunkSize = 1 << chunkBits // 48 KiB of members
	chunkMask = chunkSize - 1
)

// Sentinels for member.group, which otherwise is the member's group slot
// (below maxSlots).
const (
	// left is member.group for a slot whose member left by a leave
	// announcement: the slot stays taken until the sweep pops its heap
	// entry (every slot has exactly one), and only then is it released.
	left = math.MaxUint32
	// unused is member.group for a released slot.
	unused = math.MaxUint32 - 1
)

// at returns the member in slot, which must be below s.n.
func (s *slab) at(slot uint32) *member { return &s.chunks[slot>>chunkBits][slot&chunkMask] }

// alloc returns a slot for a new member: a released one if any, else the
// next one, with a new chunk when the last is full.
func (s *slab) alloc() uint32 {
	if n := len(s.free); n > 0 {
		slot := s.free[n-1]
		s.free = s.free[:n-1]
		return slot
	}
	if s.n == math.MaxUint32 {
		panic("group: member slab full") // 2^32 members: far beyond memory
	}
	if int(s.n) == len(s.chunks)*chunkSize {
		s.chunks = append(s.chunks, new([chunkSize]member))
	}
	s.n++
	return s.n - 1
}

// release frees slot for reuse.
func (s *slab) release(slot uint32) {
	*s.at(slot) = member{group: unused}
	s.free = append(s.free, slot)
}

// members yields every slot held by a member of a group (not the released
// ones, nor those of members that left), in slot order.
func (s *slab) members() iter.Seq2[uint32, *member] {
	return func(yield func(uint32, *member) bool) {
		for slot := range s.n {
			if m := s.at(slot); m.group < unused && !yield(slot, m) {
				return
			}
		}
	}
}
