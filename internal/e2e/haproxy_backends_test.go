package e2e

// HAProxy's traffic in the end-to-end tests: HTTP backends that answer with
// their own address, asking HAProxy's frontend which of them it serves, and
// the weights HAProxy gives them.

import (
	"bufio"
	"fmt"
	"io"
	"maps"
	"net"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"sync/atomic"
	"testing"
	"time"
)

// hapStartBackends serves HTTP on the same port of every address, each
// answering with its own address, and returns the port.
func hapStartBackends(t *testing.T, addrs []string) int {
	t.Helper()
	for attempt := 0; attempt < 20; attempt++ {
		first, err := net.Listen("tcp4", net.JoinHostPort(addrs[0], "0"))
		if err != nil {
			t.Fatal(err)
		}
		port := first.Addr().(*net.TCPAddr).Port
		lns := []net.Listener{first}
		for _, a := range addrs[1:] {
			ln, err := net.Listen("tcp4", net.JoinHostPort(a, fmt.Sprint(port)))
			if err != nil {
				break
			}
			lns = append(lns, ln)
		}
		if len(lns) < len(addrs) {
			for _, ln := range lns {
				_ = ln.Close() // unused; the next attempt takes other ports
			}
			continue
		}
		for i, ln := range lns {
			name := addrs[i]
			srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
				_, _ = io.WriteString(w, name) // a failed write shows as a failed request at the client
			})}
			go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup; a failure before shows as failed requests
			t.Cleanup(func() { _ = srv.Close() })
		}
		return port
	}
	t.Fatalf("no TCP port free on all of %v", addrs)
	return 0
}

// hapFront is HAProxy's frontend as the tests' HTTP client sees it.
type hapFront struct {
	client *http.Client
	url    string
}

// hapFrontend is the frontend on 127.0.0.1:fport, asked without keep-alive
// so that every request is balanced anew.
func hapFrontend(fport int) hapFront {
	return hapFront{
		client: &http.Client{Timeout: 3 * time.Second, Transport: &http.Transport{DisableKeepAlives: true}},
		url:    fmt.Sprintf("http://127.0.0.1:%d/", fport),
	}
}

// converge waits until HAProxy serves exactly the backends live (sorted),
// failing the test (about what) if that is not so within of since, and
// returns how long after since it was; then 30 more requests must all
// succeed and reach exactly live.
func (f hapFront) converge(t *testing.T, what string, live []string, since time.Time, within time.Duration) time.Duration {
	t.Helper()
	deadline := since.Add(within)
	for {
		served, failed := hapServed(f.client, f.url, 4*len(live))
		if failed == 0 && slices.Equal(served, live) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: HAProxy serves %v (%d failed requests) %v after, want %v", what, served, failed, within, live)
		}
		time.Sleep(50 * time.Millisecond)
	}
	took := time.Since(since)
	if served, failed := hapServed(f.client, f.url, 30); failed != 0 || !slices.Equal(served, live) {
		t.Fatalf("%s: 30 requests through HAProxy reached %v with %d failures, want exactly %v", what, served, failed, live)
	}
	return took
}

// hapGet fetches url and returns the body of a 200 response.
func hapGet(c *http.Client, url string) (string, error) {
	resp, err := c.Get(url)
	if err != nil {
		return "", err
	}
	defer func() { _ = resp.Body.Close() }() // read to the end below; a read error is returned
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return "", err
	}
	if resp.StatusCode != http.StatusOK {
		return "", fmt.Errorf("%s: %s", url, resp.Status)
	}
	return string(b), nil
}

// hapServed sends n requests through HAProxy and returns the sorted set of
// backends that answered and the number of requests that failed.
func hapServed(c *http.Client, url string, n int) ([]string, int) {
	seen := map[string]bool{}
	failed := 0
	for range n {
		name, err := hapGet(c, url)
		if err != nil {
			failed++
			continue
		}
		seen[name] = true
	}
	return slices.Sorted(maps.Keys(seen)), failed
}

// hapBackend is one HTTP backend (hapServe), the weight its v2 agent
// announces and that agent.
type hapBackend struct {
	addr   string
	port   int
	weight int
	agent  *proc
	last   atomic.Int64 // UnixNano of the last request received; 0: none
	hits   atomic.Int64
}

func (b *hapBackend) id() string { return net.JoinHostPort(b.addr, strconv.Itoa(b.port)) }

// announce starts a protocol-2 agent that announces b (its address, port
// and weight) to the listener on lport.
func (b *hapBackend) announce(t *testing.T, lport int) {
	t.Helper()
	b.agent = plugV2Agent(t, lport, b.addr, b.port, b.weight, "200ms")
}

// hapIDs is the sorted address:port of each of bs.
func hapIDs(bs ...*hapBackend) []string {
	var out []string
	for _, b := range bs {
		out = append(out, b.id())
	}
	slices.Sort(out)
	return out
}

// hapCheckWeights requires HAProxy's backend be (admin socket sock) to
// give each of backends its agent's weight.
func hapCheckWeights(t *testing.T, sock string, backends []*hapBackend) {
	t.Helper()
	weights := hapWeights(t, sock)
	for _, b := range backends {
		if got, ok := weights[b.id()]; !ok || got != b.weight {
			t.Errorf("HAProxy weight of %s = %d (present %v), want the agent's --weight %d; all: %v", b.id(), got, ok, b.weight, weights)
		}
	}
}

// hapLeave stops the agent of backends[i] with SIGTERM (it sends a
// leave) and requires HAProxy to serve exactly the other backends within
// of the signal, the agent to exit cleanly, and the backend itself to still
// answer directly (only the leave took it out); it returns how long after
// the signal HAProxy stopped serving it.
func hapLeave(t *testing.T, front hapFront, backends []*hapBackend, i int, within time.Duration) time.Duration {
	t.Helper()
	gone := backends[i]
	stay := slices.Delete(slices.Clone(backends), i, i+1)
	sent := sigterm(t, gone.agent)
	took := front.converge(t, "SIGTERM to the agent of "+gone.id(), hapIDs(stay...), sent, within)
	waitExit(t, gone.agent)
	if name, err := hapGet(front.client, "http://"+gone.id()+"/"); err != nil || name != gone.id() {
		t.Fatalf("backend %s directly: %q, %v (it must still answer: only the leave took it out)", gone.id(), name, err)
	}
	return took
}

// hapV2Backends serves the three backends the v2 HAProxy tests announce:
// two on one address (different ports), one on another, with weights 10,
// 20 and 30.
func hapV2Backends(t *testing.T) []*hapBackend {
	t.Helper()
	var backends []*hapBackend
	for i, addr := range []string{"127.0.0.41", "127.0.0.41", "127.0.0.42"} {
		b := hapServe(t, addr)
		b.weight = 10 * (i + 1)
		backends = append(backends, b)
	}
	return backends
}

// hapServe serves HTTP on a free port of addr until the test ends,
// answering with addr:port and recording each request, and returns the
// backend.
func hapServe(t *testing.T, addr string) *hapBackend {
	t.Helper()
	ln, err := net.Listen("tcp4", net.JoinHostPort(addr, "0"))
	if err != nil {
		t.Fatal(err)
	}
	b := &hapBackend{addr: addr, port: ln.Addr().(*net.TCPAddr).Port}
	name := b.id()
	srv := &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		b.last.Store(time.Now().UnixNano())
		b.hits.Add(1)
		_, _ = io.WriteString(w, name) // a failed write shows as a failed request at the client
	}), ReadHeaderTimeout: 5 * time.Second}
	go func() { _ = srv.Serve(ln) }() // ends with ErrServerClosed at cleanup; a failure before shows as failed requests
	t.Cleanup(func() { _ = srv.Close() })
	return b
}

// hapWeights asks HAProxy's admin socket for backend be's servers and
// returns the user weight of each server that has an address, by
// address:port.
func hapWeights(t *testing.T, sock string) map[string]int {
	t.Helper()
	c, err := net.DialTimeout("unix", sock, 2*time.Second)
	if err != nil {
		t.Fatalf("haproxy admin socket: %v", err)
	}
	defer func() { _ = c.Close() }() // read to EOF below
	_ = c.SetDeadline(time.Now().Add(5 * time.Second))
	if _, err := io.WriteString(c, "show servers state be\n"); err != nil {
		t.Fatal(err)
	}
	var cols []string
	weights := map[string]int{}
	sc := bufio.NewScanner(c)
	var text strings.Builder
	for sc.Scan() {
		line := sc.Text()
		text.WriteString(line + "\n")
		if rest, ok := strings.CutPrefix(line, "# "); ok && cols == nil {
			cols = strings.Fields(rest)
			continue
		}
		f := strings.Fields(line)
		if cols == nil || len(f) != len(cols) {
			continue
		}
		row := map[string]string{}
		for i, c := range cols {
			row[c] = f[i]
		}
		if row["srv_port"] == "0" || row["srv_addr"] == "-" || row["srv_addr"] == "0.0.0.0" {
			continue // a template slot without a record
		}
		w, err := strconv.Atoi(row["srv_uweight"])
		if err != nil {
			t.Fatalf("srv_uweight %q in %q", row["srv_uweight"], line)
		}
		weights[net.JoinHostPort(row["srv_addr"], row["srv_port"])] = w
	}
	if err := sc.Err(); err != nil {
		t.Fatal(err)
	}
	if cols == nil {
		t.Fatalf("no header in HAProxy's answer:\n%s", text.String())
	}
	return weights
}
