package group

import (
	"math"
	"math/rand/v2"
	"slices"
	"testing"
	"unsafe"
)

// TestHeapEntry: an entry keeps any deadline exactly, in 12 bytes.
func TestHeapEntry(t *testing.T) {
	if s := unsafe.Sizeof(heapEntry{}); s != 12 {
		t.Fatalf("heap entry is %d bytes, want 12", s)
	}
	for _, d := range []int64{0, 1, -1, 1 << 32, 1<<32 - 1, -(1 << 32), 1_764_000_000_000_000_000, math.MaxInt64, math.MinInt64} {
		if got := newHeapEntry(d, 7).deadline(); got != d {
			t.Errorf("deadline %d comes back as %d", d, got)
		}
	}
}

// TestExpiryHeapOrder: pops come in deadline order, across the sign and
// the 32-bit boundary of the halves.
func TestExpiryHeapOrder(t *testing.T) {
	rng := rand.New(rand.NewPCG(3, 4))
	var h expiryHeap
	var want []int64
	for i := range 1000 {
		d := rng.Int64N(1<<40) - 1<<39
		want = append(want, d)
		h.push(newHeapEntry(d, uint32(i)))
	}
	slices.Sort(want)
	for i, w := range want {
		if got := h.pop().deadline(); got != w {
			t.Fatalf("pop %d: deadline %d, want %d", i, got, w)
		}
	}
}
