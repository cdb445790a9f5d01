// Command dnsask asks a DNS server for a name's A and AAAA records and
// prints them one per line, like `dig +short`. The loopback demo uses it
// when no DNS client is installed (a fresh Debian machine has none), so
// the demo always shows the dns output's answer.
//
//	go run ./examples/loopback/dnsask 127.0.0.1:8253 app.demo.rgap
package main

import (
	"fmt"
	"os"
	"time"

	"github.com/miekg/dns"
)

func main() {
	if len(os.Args) != 3 {
		fmt.Fprintln(os.Stderr, "usage: dnsask SERVER:PORT NAME")
		os.Exit(2)
	}
	server, name := os.Args[1], dns.Fqdn(os.Args[2])
	c := &dns.Client{Timeout: 2 * time.Second}
	status := 0
	for _, qtype := range []uint16{dns.TypeA, dns.TypeAAAA} {
		m := new(dns.Msg).SetQuestion(name, qtype)
		r, _, err := c.Exchange(m, server)
		if err != nil {
			fmt.Fprintf(os.Stderr, "dnsask: %s %s: %v\n", name, dns.TypeToString[qtype], err)
			status = 1
			continue
		}
		if r.Rcode != dns.RcodeSuccess {
			fmt.Printf("%s %s: %s\n", name, dns.TypeToString[qtype], dns.RcodeToString[r.Rcode])
			continue
		}
		for _, rr := range r.Answer {
			switch rr := rr.(type) {
			case *dns.A:
				fmt.Println(rr.A)
			case *dns.AAAA:
				fmt.Println(rr.AAAA)
			}
		}
	}
	os.Exit(status)
}
