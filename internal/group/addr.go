package group

import "net/netip"

// addr16 is an address in the registry's internal form: its 16 bytes (IPv4
// as IPv4-mapped). Unlike netip.Addr it holds no pointer (netip.Addr keeps
// its zone behind one), so the event ring, the member slab and the member
// index are memory the garbage collector never scans: an idle listener's
// 64Ki-entry ring costs only the pages events were written to, instead of
// being faulted in whole by every GC cycle.
//
// Registry addresses are unmapped and zone-less before conversion, so a
// 4-byte IPv4 address and its IPv4-mapped IPv6 form never both occur and
// the 16 bytes identify the address.
type addr16 [16]byte

func toAddr16(a netip.Addr) addr16 { return addr16(a.As16()) }

// addr returns the netip.Addr form: IPv4 for IPv4-mapped bytes.
func (a addr16) addr() netip.Addr { return netip.AddrFrom16(a).Unmap() }

// mkey is a member's identity within its group: its address and port
// (protocol v1 members have port 0). 18 bytes, no pointer.
type mkey struct {
	addr addr16
	port uint16
}

// compare orders keys by address, then port: the order of snapshots.
func (k mkey) compare(o mkey) int {
	if c := k.addr.addr().Compare(o.addr.addr()); c != 0 {
		return c
	}
	return int(k.port) - int(o.port)
}
