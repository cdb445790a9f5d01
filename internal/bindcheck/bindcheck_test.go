package bindcheck

import (
	"errors"
	"strings"
	"testing"
)

// TestClashes: which pairs of binds the check refuses, and which it lets
// through because both binds can succeed.
func TestClashes(t *testing.T) {
	tests := []struct {
		name       string
		a, b       Bind
		wantClash  bool
		wantInText string // for clashes: part of the message
	}{
		{"same udp address", Bind{Network: "udp", Address: "127.0.0.1:53"}, Bind{Network: "udp", Address: "127.0.0.1:53"}, true,
			"A and B both bind udp 127.0.0.1:53"},
		{"udp4 and udp on one address", Bind{Network: "udp4", Address: "127.0.0.1:8271"}, Bind{Network: "udp", Address: "127.0.0.1:8271"}, true,
			"A and B both bind udp 127.0.0.1:8271"},
		{"IPv4-mapped is IPv4", Bind{Network: "udp", Address: "[::ffff:127.0.0.1]:53"}, Bind{Network: "udp", Address: "127.0.0.1:53"}, true, "both bind"},
		{"same IPv6 address", Bind{Network: "tcp6", Address: "[::1]:53"}, Bind{Network: "tcp", Address: "[0::1]:53"}, true, "both bind tcp [::1]:53"},
		{"same host name", Bind{Network: "udp", Address: "LocalHost.:53"}, Bind{Network: "udp", Address: "localhost:53"}, true, "both bind"},
		{"empty host covers IPv4", Bind{Network: "udp", Address: ":53"}, Bind{Network: "udp", Address: "127.0.0.1:53"}, true,
			"B binds udp 127.0.0.1:53, which overlaps udp :53 (every address) bound by A"},
		{"specific then wildcard", Bind{Network: "udp", Address: "127.0.0.1:53"}, Bind{Network: "udp", Address: "0.0.0.0:53"}, true,
			"B binds udp 0.0.0.0:53, which overlaps udp 127.0.0.1:53 bound by A"},
		{"dual-stack 0.0.0.0 covers IPv6", Bind{Network: "udp", Address: "0.0.0.0:53"}, Bind{Network: "udp", Address: "[::1]:53"}, true, "overlaps"},
		{"dual-stack :: covers IPv4", Bind{Network: "tcp", Address: "[::]:53"}, Bind{Network: "tcp", Address: "10.0.0.1:53"}, true, "overlaps"},
		{"dual-stack wildcard covers a name", Bind{Network: "udp", Address: ":53"}, Bind{Network: "udp", Address: "localhost:53"}, true, "overlaps"},
		{"two wildcards", Bind{Network: "udp", Address: ":53"}, Bind{Network: "udp4", Address: "0.0.0.0:53"}, true, "overlaps"},
		{"udp4 wildcard covers IPv4", Bind{Network: "udp4", Address: "0.0.0.0:53"}, Bind{Network: "udp", Address: "192.0.2.1:53"}, true, "overlaps"},
		{"multicast listen and wildcard output", Bind{Network: "udp4", Address: "239.82.71.65:8271", Shared: true}, Bind{Network: "udp", Address: ":8271"}, true, "overlaps"},

		{"different ports", Bind{Network: "udp", Address: "127.0.0.1:53"}, Bind{Network: "udp", Address: "127.0.0.1:54"}, false, ""},
		{"udp and tcp", Bind{Network: "udp", Address: "127.0.0.1:53"}, Bind{Network: "tcp", Address: "127.0.0.1:53"}, false, ""},
		{"different IPs", Bind{Network: "udp", Address: "127.0.0.1:53"}, Bind{Network: "udp", Address: "127.0.0.2:53"}, false, ""},
		{"port 0 twice", Bind{Network: "udp", Address: "127.0.0.1:0"}, Bind{Network: "udp", Address: "127.0.0.1:0"}, false, ""},
		{"port 0 wildcard", Bind{Network: "udp", Address: ":0"}, Bind{Network: "udp", Address: ":0"}, false, ""},
		{"IPv4-only wildcard and IPv6", Bind{Network: "udp4", Address: "0.0.0.0:53"}, Bind{Network: "udp", Address: "[::1]:53"}, false, ""},
		{"IPv6-only wildcard and IPv4", Bind{Network: "udp6", Address: "[::]:53"}, Bind{Network: "udp", Address: "127.0.0.1:53"}, false, ""},
		{"v4-only and v6-only wildcards", Bind{Network: "tcp4", Address: ":53"}, Bind{Network: "tcp6", Address: ":53"}, false, ""},
		{"one-family wildcard and a name", Bind{Network: "udp4", Address: "0.0.0.0:53"}, Bind{Network: "udp", Address: "localhost:53"}, false, ""},
		{"a name and an IP", Bind{Network: "udp", Address: "localhost:53"}, Bind{Network: "udp", Address: "127.0.0.1:53"}, false, ""},
		{"two shared udp", Bind{Network: "udp4", Address: "239.1.2.3:8271", Shared: true}, Bind{Network: "udp4", Address: "239.1.2.3:8271", Shared: true}, false, ""},
		{"multicast group and unicast output", Bind{Network: "udp4", Address: "239.82.71.65:8271", Shared: true}, Bind{Network: "udp", Address: "127.0.0.1:8271"}, false, ""},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tt.a.Owner, tt.b.Owner = "A", "B"
			err := Check([]Bind{tt.a, tt.b})
			if !tt.wantClash {
				if err != nil {
					t.Fatalf("Check = %v, want no clash", err)
				}
				return
			}
			var ce *ClashError
			if !errors.As(err, &ce) || !errors.Is(err, ErrClash) {
				t.Fatalf("Check = %v, want a *ClashError", err)
			}
			if ce.A.Owner != "A" || ce.B.Owner != "B" {
				t.Errorf("clash between %q and %q, want A and B in that order", ce.A.Owner, ce.B.Owner)
			}
			if !strings.Contains(err.Error(), tt.wantInText) {
				t.Errorf("error %q does not contain %q", err, tt.wantInText)
			}
			// The rules are symmetric.
			if Check([]Bind{tt.b, tt.a}) == nil {
				t.Errorf("Check(b, a) = nil, want a clash")
			}
		})
	}
}

// Every clashing pair is reported, once, in order; the others are not.
func TestCheckReportsEveryPair(t *testing.T) {
	binds := []Bind{
		{Owner: "listen entry 0", Network: "udp4", Address: "127.0.0.1:8271"},
		{Owner: "output 0", Network: "udp", Address: "127.0.0.1:8253"},
		{Owner: "output 0", Network: "tcp", Address: "127.0.0.1:8253"},
		{Owner: "output 1", Network: "udp", Address: ":8253"},
		{Owner: "output 1", Network: "tcp", Address: ":8253"},
		{Owner: "output 2", Network: "udp", Address: "127.0.0.1:8271"},
		{Owner: "output 3", Network: "udp", Address: "127.0.0.1:0"},
	}
	err := Check(binds)
	var got []string
	for _, e := range err.(interface{ Unwrap() []error }).Unwrap() {
		var ce *ClashError
		if !errors.As(e, &ce) {
			t.Fatalf("unexpected error %v", e)
		}
		got = append(got, ce.A.Owner+"/"+ce.A.Network+" vs "+ce.B.Owner+"/"+ce.B.Network)
	}
	want := []string{
		"listen entry 0/udp4 vs output 2/udp",
		"output 0/udp vs output 1/udp",
		"output 0/tcp vs output 1/tcp",
	}
	if strings.Join(got, "\n") != strings.Join(want, "\n") {
		t.Errorf("clashes:\n%s\nwant:\n%s", strings.Join(got, "\n"), strings.Join(want, "\n"))
	}
}

// A bind the check cannot read is an error naming its owner, and the
// others are still checked.
func TestCheckInvalid(t *testing.T) {
	tests := []struct {
		bind Bind
		want string
	}{
		{Bind{Network: "sctp", Address: ":53"}, `network "sctp"`},
		{Bind{Network: "udp", Address: "53"}, `"53": address 53: missing port in address`},
		{Bind{Network: "udp", Address: ":domain"}, `port "domain" is not a number`},
		{Bind{Network: "udp", Address: ":65536"}, `port "65536" is not a number`},
	}
	for _, tt := range tests {
		t.Run(tt.want, func(t *testing.T) {
			tt.bind.Owner = `output 4 (kind "ext")`
			err := Check([]Bind{
				tt.bind,
				{Owner: "X", Network: "udp", Address: ":53"},
				{Owner: "Y", Network: "udp", Address: ":53"},
			})
			if !errors.Is(err, ErrInvalid) || !errors.Is(err, ErrClash) {
				t.Fatalf("Check = %v, want ErrInvalid and the X/Y clash", err)
			}
			for _, w := range []string{`output 4 (kind "ext"): invalid bind: `, tt.want} {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q does not contain %q", err, w)
				}
			}
		})
	}
	if err := Check(nil); err != nil {
		t.Errorf("Check(nil) = %v", err)
	}
}
