package group

import (
	"fmt"
	"testing"
)

// indexKey is the key of a test member: group g, address 192.0.2.a,
// port p.
func indexKey(g uint32, a byte, p uint16) ikey {
	return ikey{group: g, mk: mkey{addr: toAddr16(addr(fmt.Sprintf("192.0.2.%d", a))), port: p}}
}

// indexFixture is an index over a slab, as the registry holds them.
type indexFixture struct {
	s  slab
	ix index
}

// put stores a member with key k in a new slot and indexes it.
func (f *indexFixture) put(k ikey) uint32 {
	slot := f.s.alloc()
	*f.s.at(slot) = member{addr: k.mk.addr, port: k.mk.port, group: k.group}
	f.ix.put(&f.s, slot)
	return slot
}

// remove drops the member with key k from the index and the slab.
func (f *indexFixture) remove(t *testing.T, k ikey) {
	t.Helper()
	slot, ok := f.ix.get(&f.s, k)
	if !ok {
		t.Fatalf("remove %v: not found", k)
	}
	if !f.ix.remove(&f.s, slot) {
		t.Fatalf("remove %v: slot %d not in the index", k, slot)
	}
	f.s.release(slot)
}

// check asserts that every key of want is found at its slot, that none of
// gone is found, and that the index counts exactly its entries.
func (f *indexFixture) check(t *testing.T, want map[ikey]uint32, gone []ikey) {
	t.Helper()
	for k, slot := range want {
		if got, ok := f.ix.get(&f.s, k); !ok || got != slot {
			t.Fatalf("get %v = %d, %t; want %d, true", k, got, ok, slot)
		}
	}
	for _, k := range gone {
		if got, ok := f.ix.get(&f.s, k); ok {
			t.Fatalf("get %v = %d, true; want not found", k, got)
		}
	}
	used := 0
	for _, e := range f.ix.entries {
		if e != 0 {
			used++
		}
	}
	if used != len(want) || f.ix.n != len(want) {
		t.Fatalf("index holds %d entries and counts %d, want %d", used, f.ix.n, len(want))
	}
}

func TestIndex(t *testing.T) {
	many := func(n int) []ikey {
		ks := make([]ikey, n)
		for i := range ks {
			ks[i] = indexKey(uint32(i%3), byte(i/3), uint16(i%5))
		}
		return ks
	}
	tests := []struct {
		name   string
		put    []ikey
		remove []ikey
		absent []ikey // never put
	}{
		{
			name:   "empty index finds nothing",
			absent: []ikey{indexKey(0, 1, 0)},
		},
		{
			name: "group, address and port each tell members apart",
			put: []ikey{
				indexKey(0, 1, 80), indexKey(0, 1, 81), indexKey(1, 1, 80), indexKey(0, 2, 80),
			},
			absent: []ikey{indexKey(2, 1, 80), indexKey(0, 1, 82), indexKey(0, 3, 80)},
		},
		{
			name: "growing keeps every member findable",
			put:  many(1000),
		},
		{
			name:   "removals shift colliding entries back, the rest stays findable",
			put:    many(300),
			remove: many(300)[100:250],
		},
		{
			name:   "remove everything",
			put:    many(40),
			remove: many(40),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := &indexFixture{ix: newIndex()}
			want := map[ikey]uint32{}
			for _, k := range tt.put {
				want[k] = f.put(k)
			}
			for _, k := range tt.remove {
				f.remove(t, k)
				delete(want, k)
			}
			f.check(t, want, append(tt.remove, tt.absent...))
		})
	}
}

// TestIndexSlotReuse: a released slot taken by another member is found
// under the new key only, and removing a slot twice reports it absent.
func TestIndexSlotReuse(t *testing.T) {
	f := &indexFixture{ix: newIndex()}
	a, b := indexKey(0, 1, 80), indexKey(0, 2, 80)
	slot := f.put(a)
	f.remove(t, a)
	if got := f.put(b); got != slot {
		t.Fatalf("new member in slot %d, want the released %d", got, slot)
	}
	f.check(t, map[ikey]uint32{b: slot}, []ikey{a})
	if !f.ix.remove(&f.s, slot) || f.ix.remove(&f.s, slot) {
		t.Fatal("remove: want true once, then false")
	}
	f.check(t, map[ikey]uint32{}, []ikey{a, b})
}

// FuzzIndex runs a sequence of puts, removals and lookups over a small key
// space (so that entries collide and runs form) against a map.
func FuzzIndex(f *testing.F) {
	f.Add([]byte{0, 1, 0, 2, 0, 3, 2, 2, 3, 1})
	f.Add([]byte{0, 0, 0, 4, 0, 8, 0, 12, 2, 4, 3, 8, 2, 0, 2, 8, 3, 12})
	f.Fuzz(func(t *testing.T, ops []byte) {
		fx := &indexFixture{ix: newIndex()}
		model := map[ikey]uint32{}
		for i := 0; i+1 < len(ops); i += 2 {
			b := ops[i+1]
			k := indexKey(uint32(b&3), b>>2&15, uint16(b>>6))
			slot, present := model[k]
			switch ops[i] & 3 {
			case 0, 1:
				if !present {
					model[k] = fx.put(k)
				}
			case 2:
				if present {
					fx.remove(t, k)
					delete(model, k)
				}
			case 3:
				if got, ok := fx.ix.get(&fx.s, k); ok != present || (ok && got != slot) {
					t.Fatalf("op %d: get %v = %d, %t; model %d, %t", i/2, k, got, ok, slot, present)
				}
			}
		}
		fx.check(t, model, nil)
	})
}
