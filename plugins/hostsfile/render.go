package hostsfile

import (
	"net/netip"
	"slices"

	"github.com/rgap-project/rgap/sdk"
)

// memberLister is the part of the group mirror that rendering needs.
type memberLister interface {
	Members(group uint64) []sdk.Member
}

// render builds the complete file: prepend lines, then one "ADDRESS
// HOSTNAME" line per address of each mapping in configuration order, then
// append lines. A mapping's addresses are its group's members, unmapped to
// plain IPv4 where possible, sorted and without duplicates; when the group
// has no members, its fallback addresses in configuration order. Every line
// ends with a newline.
func render(s *settings, groups memberLister) []byte {
	var b []byte
	for _, l := range s.prepend {
		b = append(append(b, l...), '\n')
	}
	var addrs []netip.Addr
	for _, m := range s.mappings {
		addrs = addrs[:0]
		for _, mem := range groups.Members(m.group) {
			if mem.Addr.IsValid() { // never print a zero address
				addrs = append(addrs, mem.Addr.Unmap())
			}
		}
		if len(addrs) == 0 {
			addrs = append(addrs, m.fallback...)
		} else {
			slices.SortFunc(addrs, netip.Addr.Compare)
			addrs = slices.Compact(addrs)
		}
		for _, a := range addrs {
			b = a.AppendTo(b)
			b = append(b, ' ')
			b = append(b, m.hostname...)
			b = append(b, '\n')
		}
	}
	for _, l := range s.append {
		b = append(append(b, l...), '\n')
	}
	return b
}
