package haproxy

import (
	"bufio"
	"errors"
	"fmt"
	"net"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"testing"
)

// stateHeader is HAProxy 2.6's header of `show servers state`, as captured
// from Debian's haproxy 2.6.12.
const stateHeader = "# be_id be_name srv_id srv_name srv_addr srv_op_state srv_admin_state srv_uweight srv_iweight srv_time_since_last_change srv_check_status srv_check_result srv_check_health srv_check_state srv_agent_state bk_f_forced_id srv_f_forced_id srv_fqdn srv_port srvrecord srv_use_ssl srv_check_port srv_check_addr srv_agent_addr srv_agent_port"

// fakeServer is a server of the fake HAProxy.
type fakeServer struct {
	name    string
	addr    string
	port    int
	admin   uint64
	weight  int
	iweight int // the weight at creation
	check   bool
	busy    bool // has connections: `del server` refuses
}

// fakeHAP is a stand-in for HAProxy's Runtime API on a unix socket: it
// keeps backends and servers and answers the commands the output sends the
// way HAProxy 2.6 does (the answers were captured from the real one). It
// records every exchange for golden transcripts.
type fakeHAP struct {
	network string
	path    string // the socket's path, or host:port once up on TCP
	mu      sync.Mutex
	ln      net.Listener
	be      map[string][]*fakeServer
	tr      []string // "> command" and "< answer" lines
	wg      sync.WaitGroup
}

// newFakeHAP returns a fake on a unix socket that is not listening yet
// (see up).
func newFakeHAP(t *testing.T) *fakeHAP {
	f := &fakeHAP{network: "unix", path: filepath.Join(t.TempDir(), "admin.sock"), be: map[string][]*fakeServer{}}
	t.Cleanup(f.down)
	return f
}

// template adds a server-template's servers, in maintenance (`disabled`).
func (f *fakeHAP) template(backend, prefix string, n int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for i := 1; i <= n; i++ {
		f.be[backend] = append(f.be[backend], &fakeServer{name: prefix + strconv.Itoa(i), addr: "0.0.0.0", port: 80, admin: 5, weight: 1, iweight: 1})
	}
}

// static adds a server the output must never touch.
func (f *fakeHAP) static(backend, name, addr string, port int) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.be[backend] = append(f.be[backend], &fakeServer{name: name, addr: addr, port: port, weight: 1, iweight: 1})
}

// up starts answering on the socket.
func (f *fakeHAP) up(t *testing.T) {
	ln, err := net.Listen(f.network, f.path)
	if err != nil {
		t.Fatal(err)
	}
	f.mu.Lock()
	f.ln = ln
	f.path = ln.Addr().String()
	f.mu.Unlock()
	f.wg.Add(1)
	go func() {
		defer f.wg.Done()
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			f.serve(c)
		}
	}()
}

// down stops answering and removes the socket, as a stopped HAProxy does.
func (f *fakeHAP) down() {
	f.mu.Lock()
	ln := f.ln
	f.ln = nil
	f.mu.Unlock()
	if ln != nil {
		_ = ln.Close() // removes the socket file
		f.wg.Wait()
	}
}

func (f *fakeHAP) serve(c net.Conn) {
	defer func() { _ = c.Close() }() // one command per connection, like HAProxy's non-interactive mode
	line, err := bufio.NewReader(c).ReadString('\n')
	if err != nil {
		return
	}
	cmd := strings.TrimSuffix(line, "\n")
	f.mu.Lock()
	answer := f.answer(cmd)
	f.tr = append(f.tr, "> "+cmd)
	if !strings.HasPrefix(cmd, "show servers state") {
		f.tr = append(f.tr, "< "+strings.TrimSpace(answer))
	}
	f.mu.Unlock()
	_, _ = c.Write([]byte(answer)) // the output reports a short answer itself
}

// answer runs cmd on the fake's state; f.mu is held.
func (f *fakeHAP) answer(cmd string) string {
	w := strings.Fields(cmd)
	if len(w) == 4 && w[0] == "show" && w[1] == "servers" && w[2] == "state" {
		srvs, ok := f.be[w[3]]
		if !ok {
			return "Can't find backend.\n\n"
		}
		var b strings.Builder
		b.WriteString("1\n" + stateHeader + "\n")
		for i, s := range srvs {
			fmt.Fprintf(&b, "3 %s %d %s %s 2 %d %d %d 0 1 0 0 8 0 0 0 - %d - 0 0 - - 0\n", w[3], i+1, s.name, s.addr, s.admin, s.weight, s.iweight, s.port)
		}
		return b.String() + "\n"
	}
	if len(w) < 3 {
		return "Unknown command.\n\n"
	}
	be, name, ok := strings.Cut(w[2], "/")
	if !ok {
		return "Require 'backend/server'.\n\n"
	}
	var s *fakeServer
	idx := -1
	for i, x := range f.be[be] {
		if x.name == name {
			s, idx = x, i
		}
	}
	verb := w[0] + " " + w[1]
	if verb == "add server" {
		if s != nil {
			return "Already exists a server with the same name in backend.\n\n"
		}
		if _, ok := f.be[be]; !ok || len(w) < 4 {
			return "No such backend.\n\n"
		}
		ap, err := netipAddrPort(w[3])
		if err != nil {
			return "invalid address\n\n"
		}
		ns := &fakeServer{name: name, addr: ap.addr, port: ap.port, admin: 1, weight: 1, iweight: 1}
		for i := 4; i < len(w); i++ {
			switch w[i] {
			case "weight":
				i++
				ns.weight, _ = strconv.Atoi(w[i])
				ns.iweight = ns.weight
			case "check":
				ns.check = true
			}
		}
		f.be[be] = append(f.be[be], ns)
		return "New server registered.\n\n"
	}
	if s == nil {
		return "No such server.\n\n"
	}
	switch {
	case verb == "set server" && len(w) >= 5 && w[3] == "addr":
		old, oldPort := s.addr, s.port
		s.addr = w[4]
		if len(w) == 7 && w[5] == "port" {
			s.port, _ = strconv.Atoi(w[6])
		}
		return fmt.Sprintf("IP changed from '%s' to '%s', port changed from '%d' to '%d' by 'stats socket command'\n\n", old, s.addr, oldPort, s.port)
	case verb == "set server" && len(w) == 5 && w[3] == "state":
		switch w[4] {
		case "ready":
			s.admin &^= 0x11
		case "maint":
			s.admin |= 1
		}
		return "\n"
	case verb == "set server" && len(w) == 5 && w[3] == "weight":
		n, err := strconv.Atoi(w[4])
		if err != nil || n < 0 || n > 256 {
			return "Absolute weight can only be between 0 and 256 inclusive.\n\n"
		}
		s.weight = n
		return "\n"
	case verb == "enable server":
		s.admin &^= 0x11
		return "\n"
	case verb == "enable health":
		if !s.check {
			return "Health check was not configured on this server, cannot enable.\n\n"
		}
		return "\n"
	case verb == "del server":
		if s.admin&1 == 0 {
			return "Only servers in maintenance mode can be deleted.\n\n"
		}
		if s.busy {
			return "Server still has connections attached to it, cannot remove it.\n"
		}
		f.be[be] = append(f.be[be][:idx], f.be[be][idx+1:]...)
		return "Server deleted.\n"
	}
	return "Unknown command.\n\n"
}

type addrPort struct {
	addr string
	port int
}

func netipAddrPort(s string) (addrPort, error) {
	h, p, err := net.SplitHostPort(s)
	if err != nil {
		return addrPort{}, err
	}
	n, err := strconv.Atoi(p)
	if err != nil {
		return addrPort{}, errors.New("bad port")
	}
	return addrPort{h, n}, nil
}

// servers describes a backend's servers, one "name addr:port state weight"
// per server, state "ready" or "maint".
func (f *fakeHAP) servers(backend string) []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	var out []string
	for _, s := range f.be[backend] {
		st := "ready"
		if s.admin&1 != 0 {
			st = "maint"
		}
		out = append(out, fmt.Sprintf("%s %s:%d %s %d", s.name, s.addr, s.port, st, s.weight))
	}
	return out
}

// transcript returns the exchanges so far and forgets them.
func (f *fakeHAP) transcript() []string {
	f.mu.Lock()
	defer f.mu.Unlock()
	tr := f.tr
	f.tr = nil
	return tr
}

// setBusy marks a server as having connections, or not.
func (f *fakeHAP) setBusy(backend, name string, busy bool) {
	f.mu.Lock()
	defer f.mu.Unlock()
	for _, s := range f.be[backend] {
		if s.name == name {
			s.busy = busy
		}
	}
}

// restart forgets every runtime change, as a restarted HAProxy does.
func (f *fakeHAP) restart(setup func()) {
	f.mu.Lock()
	f.be = map[string][]*fakeServer{}
	f.mu.Unlock()
	setup()
}
