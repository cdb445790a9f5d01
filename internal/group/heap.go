package group

// expiryHeap is a binary min-heap of (deadline, member slot) ordered by
// deadline. It is lazy: a refresh does not touch it, so an entry's deadline
// may be earlier than its member's current expiry; the sweep loop corrects
// that when the entry comes due. It is typed rather than built on
// container/heap so that pushes do not box values (no allocation beyond
// amortised slice growth).
type expiryHeap []heapEntry

// heapEntry is 12 bytes: the deadline is kept as two 32-bit halves so that
// the entry is 4-byte aligned (an int64 field would pad it to 16 bytes).
type heapEntry struct {
	lo, hi uint32 // the deadline, unix nanoseconds: low and high halves
	slot   uint32
}

func newHeapEntry(deadline int64, slot uint32) heapEntry {
	return heapEntry{lo: uint32(deadline), hi: uint32(uint64(deadline) >> 32), slot: slot}
}

func (e heapEntry) deadline() int64 { return int64(uint64(e.hi)<<32 | uint64(e.lo)) }

func (h *expiryHeap) push(e heapEntry) {
	*h = append(*h, e)
	h.up(len(*h) - 1)
}

// pop removes the minimum. The heap must not be empty.
func (h *expiryHeap) pop() heapEntry {
	s := *h
	top := s[0]
	last := len(s) - 1
	s[0] = s[last]
	*h = s[:last]
	if last > 0 {
		h.down(0)
	}
	return top
}

// fixTop sets the minimum entry's deadline and restores heap order.
func (h expiryHeap) fixTop(deadline int64) {
	h[0] = newHeapEntry(deadline, h[0].slot)
	h.down(0)
}

func (h expiryHeap) up(i int) {
	e := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if h[p].deadline() <= e.deadline() {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = e
}

func (h expiryHeap) down(i int) {
	n := len(h)
	e := h[i]
	for {
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && h[r].deadline() < h[c].deadline() {
			c = r
		}
		if e.deadline() <= h[c].deadline() {
			break
		}
		h[i] = h[c]
		i = c
	}
	h[i] = e
}

// drop removes every entry for which gone returns true and restores heap
// order, in O(n).
func (h *expiryHeap) drop(gone func(slot uint32) bool) {
	s := (*h)[:0]
	for _, e := range *h {
		if !gone(e.slot) {
			s = append(s, e)
		}
	}
	clear((*h)[len(s):])
	*h = s
	for i := len(s)/2 - 1; i >= 0; i-- {
		s.down(i)
	}
}
