package haproxy

import (
	"errors"
	"fmt"
	"strconv"
	"strings"
)

// Bits of srv_admin_state (HAProxy's SRV_ADMF_*) the output reads.
const (
	adminForcedMaint = 0x01 // set by `state maint` / `disable server`
	adminForcedDrain = 0x10 // set by `state drain`
)

// server is one row of `show servers state`: the parts the output reads.
type server struct {
	name    string
	addr    string // as HAProxy prints it ("0.0.0.0" or "-" when it has none)
	port    uint16
	admin   uint64 // srv_admin_state bits
	weight  int    // srv_uweight: the weight now (configuration or `set server weight`)
	iweight int    // srv_iweight: the weight the configuration gives
}

// ready reports whether the server is out of forced maintenance and drain,
// the states the output sets and clears.
func (s *server) ready() bool { return s.admin&(adminForcedMaint|adminForcedDrain) == 0 }

// errNoBackend is returned by parseServersState for HAProxy's answer to a
// backend it does not have.
var errNoBackend = errors.New("HAProxy has no such backend")

// parseServersState parses the answer to `show servers state BACKEND`:
// a version line ("1"), a header naming the columns ("# be_id be_name ..."),
// then one line of space-separated fields per server. Columns are found by
// their header names, so added columns do not matter. Only rows of backend
// are returned. The bytes come from a socket: anything malformed is an
// error, never a panic.
func parseServersState(answer, backend string) ([]server, error) {
	if strings.HasPrefix(answer, "Can't find backend") {
		return nil, errNoBackend
	}
	lines := strings.Split(answer, "\n")
	if strings.TrimSpace(lines[0]) != "1" {
		return nil, fmt.Errorf("unexpected answer (want format version 1): %q", firstLine(answer))
	}
	if len(lines) < 2 || !strings.HasPrefix(lines[1], "# ") {
		return nil, errors.New("no column header after the version line")
	}
	col := map[string]int{}
	for i, name := range strings.Fields(lines[1][2:]) {
		col[name] = i
	}
	need := []string{"be_name", "srv_name", "srv_addr", "srv_admin_state", "srv_uweight", "srv_port", "srv_iweight"}
	idx := make([]int, len(need))
	for i, name := range need {
		c, ok := col[name]
		if !ok {
			return nil, fmt.Errorf("column %s missing from the header", name)
		}
		idx[i] = c
	}
	var out []server
	for n, line := range lines[2:] {
		if line == "" {
			continue
		}
		f := strings.Fields(line)
		for _, c := range idx {
			if c >= len(f) {
				return nil, fmt.Errorf("line %d: %d fields, too few", n+3, len(f))
			}
		}
		if f[idx[0]] != backend {
			continue
		}
		admin, err := strconv.ParseUint(f[idx[3]], 10, 64)
		if err != nil {
			return nil, fmt.Errorf("line %d: srv_admin_state %q: not a number", n+3, f[idx[3]])
		}
		weight, err := strconv.ParseUint(f[idx[4]], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("line %d: srv_uweight %q: not a number", n+3, f[idx[4]])
		}
		port, err := strconv.ParseUint(f[idx[5]], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("line %d: srv_port %q: not a port", n+3, f[idx[5]])
		}
		iweight, err := strconv.ParseUint(f[idx[6]], 10, 16)
		if err != nil {
			return nil, fmt.Errorf("line %d: srv_iweight %q: not a number", n+3, f[idx[6]])
		}
		out = append(out, server{name: f[idx[1]], addr: f[idx[2]], port: uint16(port), admin: admin, weight: int(weight), iweight: int(iweight)})
	}
	return out, nil
}

// firstLine returns s up to its first newline, at most 80 bytes.
func firstLine(s string) string {
	if i := strings.IndexByte(s, '\n'); i >= 0 {
		s = s[:i]
	}
	if len(s) > 80 {
		s = s[:80]
	}
	return s
}
