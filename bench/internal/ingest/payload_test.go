package ingest

import (
	"net/netip"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/protocol"
)

// TestDatagrams checks the traffic the listener is fed: every datagram a
// valid announcement of the bench group, signed with the bench PSK, with
// the generation time and its own address.
func TestDatagrams(t *testing.T) {
	now := time.Date(2025, 3, 4, 5, 6, 7, 891_234_000, time.UTC)
	set, err := datagrams(benchAddresses, now)
	if err != nil {
		t.Fatal(err)
	}
	if len(set) != benchAddresses {
		t.Fatalf("%d datagrams, want %d", len(set), benchAddresses)
	}
	psk, err := protocol.ParsePSK(benchPSK)
	if err != nil {
		t.Fatal(err)
	}
	key := protocol.NewKey(psk)
	seen := make(map[netip.Addr]bool, len(set))
	for i, d := range set {
		a, err := protocol.Parse(d)
		if err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if err := key.Verify(d); err != nil {
			t.Fatalf("datagram %d: %v", i, err)
		}
		if a.Group != benchGroup || a.Timestamp != now.UnixMicro() {
			t.Fatalf("datagram %d: group %d timestamp %d, want %d and %d", i, a.Group, a.Timestamp, benchGroup, now.UnixMicro())
		}
		if !a.Addr.Is4() || a.Addr.As4()[0] != 10 || seen[a.Addr] {
			t.Fatalf("datagram %d: address %s is not a fresh 10.x.y.z", i, a.Addr)
		}
		seen[a.Addr] = true
	}
	// The slices share one backing array but must not overlap: appending
	// to one may not overwrite the next.
	if cap(set[0]) != protocol.Size {
		t.Errorf("cap of a datagram = %d, want %d", cap(set[0]), protocol.Size)
	}
}
