package handshake

import "testing"

// The host uses the highest protocol version both sides speak; a plugin
// built before protocol 2 gets protocol 1, one speaking none of ours none.
func TestNegotiate(t *testing.T) {
	tests := []struct {
		theirs []uint32
		want   uint32
	}{
		{[]uint32{1}, ProtocolV1},
		{[]uint32{1, 2}, ProtocolV2},
		{[]uint32{2, 1}, ProtocolV2},
		{[]uint32{2, 3}, ProtocolV2},
		{[]uint32{7}, 0},
		{nil, 0},
	}
	for _, tt := range tests {
		if got := Negotiate(tt.theirs); got != tt.want {
			t.Errorf("Negotiate(%v) = %d, want %d", tt.theirs, got, tt.want)
		}
	}
}
