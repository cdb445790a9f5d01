package haproxy

import (
	"context"
	"fmt"
	"io"
	"net"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// Timeouts of one Runtime API exchange.
const (
	dialTimeout     = time.Second
	exchangeTimeout = 3 * time.Second
	maxAnswer       = 4 << 20 // a `show servers state` of thousands of servers fits
)

// runtimeAPI sends one command per connection to HAProxy's Runtime API
// (its non-interactive mode: HAProxy answers and closes the connection).
type runtimeAPI struct {
	network, address string
}

// exec sends cmd and returns HAProxy's whole answer. The error is a failure
// to reach HAProxy or to read its answer, not an answer that reports an
// error (see command.ok).
func (r *runtimeAPI) exec(ctx context.Context, cmd string) (string, error) {
	d := net.Dialer{Timeout: dialTimeout}
	c, err := d.DialContext(ctx, r.network, r.address)
	if err != nil {
		return "", err
	}
	defer func() { _ = c.Close() }() // the answer was read to EOF, or the error is returned
	// A stopping output does not wait for a silent HAProxy.
	stop := context.AfterFunc(ctx, func() { _ = c.Close() })
	defer stop()
	if err := c.SetDeadline(time.Now().Add(exchangeTimeout)); err != nil {
		return "", err
	}
	if _, err := io.WriteString(c, cmd+"\n"); err != nil {
		return "", fmt.Errorf("send %q: %w", cmd, err)
	}
	b, err := io.ReadAll(io.LimitReader(c, maxAnswer+1))
	if err != nil {
		return "", fmt.Errorf("read answer to %q: %w", cmd, err)
	}
	if len(b) > maxAnswer {
		return "", fmt.Errorf("answer to %q longer than %d bytes", cmd, maxAnswer)
	}
	return string(b), nil
}

// op is what a command does.
type op int

const (
	opAddr      op = iota + 1 // set server B/S addr A [port P]
	opWeight                  // set server B/S weight W
	opReady                   // set server B/S state ready
	opMaint                   // set server B/S state maint
	opAdd                     // add server B/S A:P [weight W] [check]
	opEnable                  // enable server B/S
	opHealth                  // enable health B/S
	opDel                     // del server B/S
	opShowState               // show servers state B
)

// command is one Runtime API command on one server.
type command struct {
	op      op
	backend string
	server  string
	addr    netip.Addr
	port    uint16 // 0: keep the server's port (opAddr)
	weight  int    // opWeight; opAdd: < 0 to leave HAProxy's default
	check   bool   // opAdd
}

// String renders the command as sent on the socket.
func (c command) String() string {
	bs := c.backend + "/" + c.server
	switch c.op {
	case opAddr:
		s := "set server " + bs + " addr " + c.addr.String()
		if c.port != 0 {
			s += " port " + strconv.Itoa(int(c.port))
		}
		return s
	case opWeight:
		return "set server " + bs + " weight " + strconv.Itoa(c.weight)
	case opReady:
		return "set server " + bs + " state ready"
	case opMaint:
		return "set server " + bs + " state maint"
	case opAdd:
		s := "add server " + bs + " " + netip.AddrPortFrom(c.addr, c.port).String()
		if c.weight >= 0 {
			s += " weight " + strconv.Itoa(c.weight)
		}
		if c.check {
			s += " check"
		}
		return s
	case opEnable:
		return "enable server " + bs
	case opHealth:
		return "enable health " + bs
	case opDel:
		return "del server " + bs
	case opShowState:
		return "show servers state " + c.backend
	}
	return fmt.Sprintf("unknown op %d", int(c.op))
}

// ok reports whether answer is HAProxy's answer to a command that did what
// was asked. HAProxy 2.6 answers these commands with an empty line, or one
// of the lines below; anything else is an error message.
func (c command) ok(answer string) bool {
	a := strings.TrimSpace(answer)
	switch c.op {
	case opAddr:
		return strings.HasPrefix(a, "IP changed from") || strings.HasPrefix(a, "no need to change the addr") ||
			strings.HasPrefix(a, "port changed from") || strings.HasPrefix(a, "no need to change the port")
	case opAdd:
		return a == "New server registered."
	case opDel:
		return a == "Server deleted."
	default:
		return a == ""
	}
}

// busy reports whether answer says a `del server` must wait for the
// server's connections to end; the next reconcile tries again.
func (c command) busy(answer string) bool {
	return c.op == opDel && strings.Contains(answer, "still has")
}

// apply records on s the effect of the command once HAProxy accepted it, so
// that the cached view of the backend stays right without a read.
func (c command) apply(s *server) {
	switch c.op {
	case opAddr:
		s.addr = c.addr.String()
		if c.port != 0 {
			s.port = c.port
		}
	case opWeight:
		s.weight = c.weight
	case opReady, opEnable:
		s.admin &^= adminForcedMaint | adminForcedDrain
	case opMaint:
		s.admin |= adminForcedMaint
	}
}
