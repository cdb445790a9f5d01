package e2e

import (
	"slices"
	"time"

	"github.com/miekg/dns"
)

// dnsQuery asks the dns output at addr (host:port, over UDP) for the
// records of type qtype of name, waiting at most timeout for the answer.
func dnsQuery(addr, name string, qtype uint16, timeout time.Duration) (*dns.Msg, error) {
	c := &dns.Client{Net: "udp", Timeout: timeout}
	r, _, err := c.Exchange(new(dns.Msg).SetQuestion(dns.Fqdn(name), qtype), addr)
	return r, err
}

// dnsA returns the sorted addresses of the A records of an answer, and
// its records of any other type.
func dnsA(r *dns.Msg) (addrs []string, other []dns.RR) {
	for _, rr := range r.Answer {
		if a, ok := rr.(*dns.A); ok {
			addrs = append(addrs, a.A.String())
		} else {
			other = append(other, rr)
		}
	}
	slices.Sort(addrs)
	return addrs, other
}
