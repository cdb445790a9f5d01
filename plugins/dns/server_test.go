package dns

import (
	"context"
	"encoding/binary"
	"errors"
	"io"
	"net"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"
	miekg "github.com/miekg/dns"

	"github.com/rgap-project/rgap/internal/background"
)

// silence is how long a test waits to conclude that no response comes.
const silence = 300 * time.Millisecond

// startServer runs serve for r on a free loopback port and returns the
// address, the same for UDP and TCP. The server stops at the end of the test.
func startServer(t *testing.T, r *responder) string {
	t.Helper()
	bound := make(chan [2]net.Addr, 1)
	srv := background.Start(t, "server", 10*time.Second, func(ctx context.Context) error {
		return serve(ctx, "127.0.0.1:0", r, hclog.NewNullLogger(), func(udp, tcp net.Addr) { bound <- [2]net.Addr{udp, tcp} }, time.Minute)
	})
	var addrs [2]net.Addr
	select {
	case addrs = <-bound:
	case <-srv.Exited():
		t.Fatalf("server failed to start: %v", srv.Err())
	case <-time.After(5 * time.Second):
		t.Fatal("server did not start within 5s")
	}
	if addrs[0].String() != addrs[1].String() {
		t.Fatalf("UDP bound %s and TCP %s: want the same address", addrs[0], addrs[1])
	}
	return addrs[0].String()
}

// exchangeRaw sends one message over network ("udp" or "tcp") and returns
// the response, or an error when none came within wait.
func exchangeRaw(t *testing.T, network, addr string, msg []byte, wait time.Duration) ([]byte, error) {
	t.Helper()
	conn, err := net.Dial(network, addr)
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = conn.Close() }() // the exchange's outcome is known before
	if err := conn.SetDeadline(time.Now().Add(wait)); err != nil {
		t.Fatal(err)
	}
	if network == "udp" {
		if _, err := conn.Write(msg); err != nil {
			t.Fatal(err)
		}
		buf := make([]byte, 65535)
		n, err := conn.Read(buf)
		return buf[:n], err
	}
	framed := binary.BigEndian.AppendUint16(nil, uint16(len(msg)))
	if _, err := conn.Write(append(framed, msg...)); err != nil {
		t.Fatal(err)
	}
	var size [2]byte
	if _, err := io.ReadFull(conn, size[:]); err != nil {
		return nil, err
	}
	out := make([]byte, binary.BigEndian.Uint16(size[:]))
	_, err = io.ReadFull(conn, out)
	return out, err
}

// exchange sends q and parses the response; nil when none came.
func exchange(t *testing.T, network, addr string, q *miekg.Msg, wait time.Duration) ([]byte, *miekg.Msg) {
	t.Helper()
	b, err := q.Pack()
	if err != nil {
		t.Fatal(err)
	}
	raw, err := exchangeRaw(t, network, addr, b, wait)
	if err != nil {
		if isSilence(err) {
			return nil, nil
		}
		t.Fatalf("%s exchange: %v", network, err)
	}
	resp := new(miekg.Msg)
	if err := resp.Unpack(raw); err != nil {
		t.Fatalf("response does not parse: %v", err)
	}
	return raw, resp
}

// isSilence tells a missing response (timeout, or the server closing a TCP
// connection it will not answer on) from a test failure.
func isSilence(err error) bool {
	return errors.Is(err, os.ErrDeadlineExceeded) || errors.Is(err, io.EOF)
}

func TestServerResponses(t *testing.T) {
	r, _ := testResponder(t, nil)
	addr := startServer(t, r)
	for _, network := range []string{"udp", "tcp"} {
		for _, tc := range responseCases {
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				wait := 5 * time.Second
				if tc.noReply {
					wait = silence
				}
				q := tc.q()
				_, resp := exchange(t, network, addr, q, wait)
				checkResponse(t, tc, q, resp)
			})
		}
	}
}

func TestServerSizes(t *testing.T) {
	r, _ := testResponder(t, nil)
	addr := startServer(t, r)
	cases := []sizeCase{
		{name: "udp no EDNS0", q: query("big.example.com.", miekg.TypeAAAA, 0), limit: 512, total: 200},
		{name: "udp EDNS0 1232", q: query("big.example.com.", miekg.TypeAAAA, 1232), limit: 1232, total: 200},
		{name: "udp EDNS0 4096", q: query("big.example.com.", miekg.TypeAAAA, 4096), limit: 4096, total: 200},
		{name: "udp IPv4 no EDNS0", q: query("big4.example.com.", miekg.TypeA, 0), limit: 512, total: 300},
		{name: "tcp all 200", q: query("big.example.com.", miekg.TypeAAAA, 1232), stream: true, limit: maxTCPSize, total: 200, full: true},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			network := "udp"
			if tc.stream {
				network = "tcp"
			}
			raw, resp := exchange(t, network, addr, tc.q, 5*time.Second)
			if resp == nil {
				t.Fatal("no response")
			}
			checkFits(t, tc, raw, resp)
		})
	}
}

func TestServerMalformed(t *testing.T) {
	r, _ := testResponder(t, nil)
	addr := startServer(t, r)
	header := func(id uint16, bits uint16, qd uint16) []byte {
		var h [12]byte
		binary.BigEndian.PutUint16(h[0:], id)
		binary.BigEndian.PutUint16(h[2:], bits)
		binary.BigEndian.PutUint16(h[4:], qd)
		return h[:]
	}
	tests := []struct {
		name    string
		msg     []byte
		rcode   int // -1: no response
		id      uint16
		network string // "" means both
	}{
		{name: "shorter than a header", msg: []byte{0x12, 0x34, 0x01}, rcode: -1, network: "udp"},
		{name: "empty datagram", msg: nil, rcode: -1, network: "udp"},
		{name: "question cut short", msg: append(header(0x1234, 0, 1), 6, 'w', 'o', 'r'), rcode: miekg.RcodeFormatError, id: 0x1234},
		{name: "label pointing past the end", msg: append(header(0x2345, 0, 1), 0xc0, 0xff, 0, 1, 0, 1), rcode: miekg.RcodeFormatError, id: 0x2345},
		{name: "header only, one question announced", msg: header(0x3456, 0, 1), rcode: miekg.RcodeFormatError, id: 0x3456},
		{name: "header only, no question", msg: header(0x4567, 0, 0), rcode: miekg.RcodeFormatError, id: 0x4567},
		{name: "a response with garbage", msg: append(header(0x5678, 1<<15, 1), 0xff, 0xff), rcode: -1},
		{name: "opcode 15", msg: append(header(0x6789, 15<<11, 1), 0), rcode: miekg.RcodeNotImplemented, id: 0x6789},
	}
	for _, tc := range tests {
		for _, network := range []string{"udp", "tcp"} {
			if tc.network != "" && tc.network != network {
				continue
			}
			t.Run(network+"/"+tc.name, func(t *testing.T) {
				wait := 5 * time.Second
				if tc.rcode < 0 {
					wait = silence
				}
				raw, err := exchangeRaw(t, network, addr, tc.msg, wait)
				if tc.rcode < 0 {
					if err == nil {
						t.Fatalf("got a %d-byte response, want none", len(raw))
					}
					if !isSilence(err) {
						t.Fatal(err)
					}
					return
				}
				if err != nil {
					t.Fatalf("no response: %v", err)
				}
				resp := new(miekg.Msg)
				if err := resp.Unpack(raw); err != nil {
					t.Fatalf("response does not parse: %v", err)
				}
				if resp.Id != tc.id || !resp.Response || resp.Rcode != tc.rcode {
					t.Fatalf("id %#x QR %v rcode %s, want id %#x QR and %s", resp.Id, resp.Response, miekg.RcodeToString[resp.Rcode], tc.id, miekg.RcodeToString[tc.rcode])
				}
			})
		}
	}
	// The server survived all of that.
	_, resp := exchange(t, "udp", addr, query("worker.example.com.", miekg.TypeA, 0), 5*time.Second)
	if resp == nil || len(resp.Answer) != 3 {
		t.Fatalf("after malformed input: %v, want the 3 members", resp)
	}
	if got := r.stats.snapshot(); got.Malformed == 0 || got.Ignored == 0 {
		t.Errorf("counters %+v: want malformed and ignored queries counted", got)
	}
}

func TestServerPortInUse(t *testing.T) {
	taken, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer func() { _ = taken.Close() }() // only held to make the port busy
	r, _ := testResponder(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	err = serve(ctx, taken.Addr().String(), r, nil, nil, time.Minute)
	if err == nil || !strings.Contains(err.Error(), "tcp") || !strings.Contains(err.Error(), taken.Addr().String()) {
		t.Fatalf("serve on a taken TCP port: %v, want an error naming tcp and the address", err)
	}
}
