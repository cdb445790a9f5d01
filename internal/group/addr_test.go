package group

import (
	"net/netip"
	"reflect"
	"testing"
	"unsafe"
)

func TestAddr16RoundTrip(t *testing.T) {
	for _, s := range []string{"0.0.0.0", "192.0.2.1", "255.255.255.255", "::", "::1", "2001:db8::1", "::ffff:1.2.3.4"} {
		a := netip.MustParseAddr(s).Unmap()
		if got := toAddr16(a).addr(); got != a {
			t.Errorf("%s: round trip gave %s", a, got)
		}
	}
	if toAddr16(netip.MustParseAddr("192.0.2.1")) == toAddr16(netip.MustParseAddr("2001:db8::1")) {
		t.Error("distinct addresses share a key")
	}
}

// TestRingHoldsNoPointers guards the idle memory of the listener: the event
// ring (64Ki records) and the member slab must be memory the garbage
// collector does not scan, or every GC cycle faults the whole ring in.
func TestRingHoldsNoPointers(t *testing.T) {
	for _, v := range []any{record{}, member{}, heapEntry{}} {
		if typ := reflect.TypeOf(v); hasPointers(typ) {
			t.Errorf("%v contains a pointer", typ)
		}
	}
	if n := unsafe.Sizeof(record{}); n != 32 {
		t.Errorf("record is %d bytes, want 32", n)
	}
}

func hasPointers(t reflect.Type) bool {
	switch t.Kind() {
	case reflect.Pointer, reflect.Map, reflect.Slice, reflect.String, reflect.Interface, reflect.Chan, reflect.Func, reflect.UnsafePointer:
		return true
	case reflect.Array:
		return hasPointers(t.Elem())
	case reflect.Struct:
		for i := range t.NumField() {
			if hasPointers(t.Field(i).Type) {
				return true
			}
		}
	}
	return false
}
