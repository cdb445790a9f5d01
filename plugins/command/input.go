package command

import (
	"cmp"
	"net/netip"
	"slices"
	"strconv"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

// format is how members are written on the program's standard input.
type format string

const (
	// formatAddress: one address per line, each address once (the
	// original format).
	formatAddress format = "address"
	// formatAddressPort: one address:port per line ([v6]:port), port 0
	// for a member that announced none.
	formatAddressPort format = "address_port"
	// formatJSON: one JSON object per line with address, port, weight and
	// expires.
	formatJSON format = "json"
)

// entry is one line of the program's input. Which fields are set depends on
// the format: address only, address and port, or everything.
type entry struct {
	addr         netip.Addr
	port, weight uint16
	expires      time.Time // json only
}

// same says whether two entries give the program the same member; the
// expiry is left out: a member that keeps announcing is no change.
func (e entry) same(f entry) bool {
	return e.addr == f.addr && e.port == f.port && e.weight == f.weight
}

// entries returns the lines the program gets for members in format f:
// IPv4 addresses as plain IPv4, sorted by address then port, one line per
// address (address format) or per address and port (the others; of
// duplicates the one that expires last wins).
func entries(members []sdk.Member, f format) []entry {
	es := make([]entry, 0, len(members))
	for _, m := range members {
		if !m.Addr.IsValid() {
			continue // never print a zero address
		}
		e := entry{addr: m.Addr.Unmap()}
		if f == formatAddressPort || f == formatJSON {
			e.port = m.Port
		}
		if f == formatJSON {
			e.weight, e.expires = m.Weight, m.Expires
		}
		es = append(es, e)
	}
	slices.SortFunc(es, func(a, b entry) int {
		if c := a.addr.Compare(b.addr); c != 0 {
			return c
		}
		if c := cmp.Compare(a.port, b.port); c != 0 {
			return c
		}
		return b.expires.Compare(a.expires) // the latest first: Compact keeps it
	})
	return slices.CompactFunc(es, func(a, b entry) bool { return a.addr == b.addr && a.port == b.port })
}

// render writes es in format f, one line each. A json line is
// {"address":"10.0.0.1","port":8080,"weight":10,"expires":"2026-12-03T10:14:20.5Z"}:
// every field always present, expires in RFC 3339 (UTC, fractional seconds
// when there are any). Addresses need no JSON escaping.
func render(es []entry, f format) []byte {
	var b []byte
	for _, e := range es {
		switch f {
		case formatAddressPort:
			b = netip.AddrPortFrom(e.addr, e.port).AppendTo(b)
		case formatJSON:
			b = append(b, `{"address":"`...)
			b = e.addr.AppendTo(b)
			b = append(b, `","port":`...)
			b = strconv.AppendUint(b, uint64(e.port), 10)
			b = append(b, `,"weight":`...)
			b = strconv.AppendUint(b, uint64(e.weight), 10)
			b = append(b, `,"expires":"`...)
			b = e.expires.UTC().AppendFormat(b, time.RFC3339Nano)
			b = append(b, `"}`...)
		default:
			b = e.addr.AppendTo(b)
		}
		b = append(b, '\n')
	}
	return b
}
