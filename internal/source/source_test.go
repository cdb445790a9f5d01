package source

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

// readers lists the two batch readers; both are exercised on Linux.
var readers = []struct {
	name     string
	portable bool
}{
	{"recvmmsg", false},
	{"x-net-ReadBatch", true},
}

// loopbacks lists the loopback addresses of both families.
var loopbacks = []string{"127.0.0.1", "::1"}

func spec(t testing.TB, addr string, port uint16) netspec.Spec {
	t.Helper()
	return netspec.Spec{Addr: netip.AddrPortFrom(netip.MustParseAddr(addr), port)}
}

func listen(t testing.TB, s netspec.Spec, opts Options) *Conn {
	t.Helper()
	c, err := Listen(s, opts)
	if err != nil {
		if s.Addr.Addr().Is6() && strings.Contains(err.Error(), "cannot assign requested address") {
			t.Skipf("no IPv6 loopback: %v", err)
		}
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = c.Close() })
	return c
}

// sender returns a connected UDP socket sending to dst.
func sender(t testing.TB, dst netip.AddrPort) *net.UDPConn {
	t.Helper()
	s, err := net.DialUDP("udp", nil, net.UDPAddrFromAddrPort(dst))
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { _ = s.Close() })
	return s
}

// send sends b to dst from a new socket.
func send(t testing.TB, dst netip.AddrPort, b []byte) {
	t.Helper()
	if _, err := sender(t, dst).Write(b); err != nil {
		t.Fatal(err)
	}
}

// collector runs c.Run in the background and records copies of every batch.
type collector struct {
	mu      sync.Mutex
	batches [][][]byte
	arrived chan struct{} // signalled after every batch
	done    chan error
	cancel  context.CancelFunc
}

func collect(t testing.TB, c *Conn) *collector {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	col := &collector{arrived: make(chan struct{}, 1), done: make(chan error, 1), cancel: cancel}
	go func() {
		col.done <- c.Run(ctx, func(dgs [][]byte) {
			batch := make([][]byte, len(dgs))
			for i, d := range dgs {
				batch[i] = bytes.Clone(d)
			}
			col.mu.Lock()
			col.batches = append(col.batches, batch)
			col.mu.Unlock()
			select {
			case col.arrived <- struct{}{}:
			default:
			}
		})
	}()
	t.Cleanup(func() {
		cancel()
		if err := col.wait(t); err != nil {
			t.Errorf("Run: %v", err)
		}
	})
	return col
}

// wait returns Run's result, failing the test if Run does not return.
func (col *collector) wait(t testing.TB) error {
	t.Helper()
	select {
	case err := <-col.done:
		col.done <- err // keep it for a second caller
		return err
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return within 5s")
		return nil
	}
}

// datagrams waits until n datagrams were collected and returns them.
func (col *collector) datagrams(t testing.TB, n int) [][]byte {
	t.Helper()
	deadline := time.After(5 * time.Second)
	for {
		col.mu.Lock()
		var all [][]byte
		for _, b := range col.batches {
			all = append(all, b...)
		}
		col.mu.Unlock()
		if len(all) >= n {
			return all
		}
		select {
		case <-col.arrived:
		case <-deadline:
			t.Fatalf("got %d datagrams within 5s, want %d", len(all), n)
		}
	}
}

func payload(i int) []byte {
	b := make([]byte, 66)
	copy(b, fmt.Sprintf("datagram %04d", i))
	b[65] = byte(i)
	return b
}

func TestBatchesArriveIntact(t *testing.T) {
	const total, batch = 200, 64
	for _, r := range readers {
		for _, lo := range loopbacks {
			t.Run(r.name+"/"+lo, func(t *testing.T) {
				c := listen(t, spec(t, lo, 0), Options{BatchSize: batch, portable: r.portable})
				s := sender(t, c.LocalAddr())
				// Queue everything before reading so reads find full batches.
				for i := range total {
					if _, err := s.Write(payload(i)); err != nil {
						t.Fatal(err)
					}
				}
				col := collect(t, c)
				got := col.datagrams(t, total)
				if len(got) != total {
					t.Fatalf("got %d datagrams, want %d", len(got), total)
				}
				for i, d := range got {
					if !bytes.Equal(d, payload(i)) {
						t.Fatalf("datagram %d = %q, want %q", i, d, payload(i))
					}
				}
				col.mu.Lock()
				largest := 0
				for _, b := range col.batches {
					largest = max(largest, len(b))
				}
				nb := len(col.batches)
				col.mu.Unlock()
				if largest > batch {
					t.Errorf("a batch held %d datagrams, BatchSize is %d", largest, batch)
				}
				if largest < 2 {
					t.Errorf("largest batch held %d datagrams: reads are not batched", largest)
				}
				st := c.Stats()
				if st.Datagrams != total || st.Batches != uint64(nb) || st.Truncated != 0 {
					t.Errorf("Stats = %+v, want %d datagrams in %d batches, none truncated", st, total, nb)
				}
			})
		}
	}
}

func TestOversizeDatagram(t *testing.T) {
	for _, r := range readers {
		t.Run(r.name, func(t *testing.T) {
			c := listen(t, spec(t, "127.0.0.1", 0), Options{portable: r.portable})
			s := sender(t, c.LocalAddr())
			big := bytes.Repeat([]byte("x"), 1000)
			exact := bytes.Repeat([]byte("e"), DatagramBufferSize)
			for _, d := range [][]byte{big, exact, payload(1)} {
				if _, err := s.Write(d); err != nil {
					t.Fatal(err)
				}
			}
			col := collect(t, c)
			got := col.datagrams(t, 3)
			if !bytes.Equal(got[0], big[:DatagramBufferSize]) {
				t.Errorf("oversize datagram handed over as %d bytes, want its first %d", len(got[0]), DatagramBufferSize)
			}
			if !bytes.Equal(got[1], exact) {
				t.Errorf("datagram of exactly %d bytes handed over as %d bytes", DatagramBufferSize, len(got[1]))
			}
			if !bytes.Equal(got[2], payload(1)) {
				t.Errorf("datagram after the oversize one = %q, want %q", got[2], payload(1))
			}
			if st := c.Stats(); st.Truncated != 1 || st.Datagrams != 3 {
				t.Errorf("Stats = %+v, want 3 datagrams, 1 truncated", st)
			}
		})
	}
}

func TestRunStops(t *testing.T) {
	for _, r := range readers {
		t.Run(r.name+"/close", func(t *testing.T) {
			c := listen(t, spec(t, "127.0.0.1", 0), Options{portable: r.portable})
			col := collect(t, c)
			send(t, c.LocalAddr(), payload(0))
			col.datagrams(t, 1) // Run is blocked in a read now
			if err := c.Close(); err != nil {
				t.Fatal(err)
			}
			if err := col.wait(t); err != nil {
				t.Fatalf("Run after Close = %v, want nil", err)
			}
		})
		t.Run(r.name+"/cancel", func(t *testing.T) {
			c := listen(t, spec(t, "127.0.0.1", 0), Options{portable: r.portable})
			col := collect(t, c)
			send(t, c.LocalAddr(), payload(0))
			col.datagrams(t, 1)
			col.cancel()
			if err := col.wait(t); err != nil {
				t.Fatalf("Run after cancel = %v, want nil", err)
			}
			// The Conn stays usable: a new Run receives again.
			col2 := collect(t, c)
			send(t, c.LocalAddr(), payload(2))
			if got := col2.datagrams(t, 1); !bytes.Equal(got[0], payload(2)) {
				t.Fatalf("second Run got %q", got[0])
			}
		})
	}
	t.Run("concurrent", func(t *testing.T) {
		c := listen(t, spec(t, "127.0.0.1", 0), Options{})
		col := collect(t, c)
		send(t, c.LocalAddr(), payload(0))
		col.datagrams(t, 1)
		err := c.Run(context.Background(), func([][]byte) {})
		if !errors.Is(err, ErrRunning) {
			t.Fatalf("second concurrent Run = %v, want ErrRunning", err)
		}
	})
	t.Run("closed before run", func(t *testing.T) {
		c := listen(t, spec(t, "127.0.0.1", 0), Options{})
		if err := c.Close(); err != nil {
			t.Fatal(err)
		}
		if err := c.Run(context.Background(), func([][]byte) {}); err != nil {
			t.Fatalf("Run on closed Conn = %v, want nil", err)
		}
	})
}

func TestLocalAddr(t *testing.T) {
	c := listen(t, spec(t, "127.0.0.1", 0), Options{})
	la := c.LocalAddr()
	if !la.Addr().Is4() || la.Addr() != netip.MustParseAddr("127.0.0.1") || la.Port() == 0 {
		t.Fatalf("LocalAddr = %v, want 127.0.0.1 with the kernel-chosen port", la)
	}
	wild := listen(t, netspec.Spec{}, Options{})
	if p := wild.LocalAddr().Port(); p == 0 {
		t.Fatalf("wildcard LocalAddr = %v, want a port", wild.LocalAddr())
	}
	// An empty host receives on every loopback address.
	col := collect(t, wild)
	send(t, netip.AddrPortFrom(netip.MustParseAddr("127.0.0.1"), wild.LocalAddr().Port()), payload(7))
	if got := col.datagrams(t, 1); !bytes.Equal(got[0], payload(7)) {
		t.Fatalf("got %q", got[0])
	}
}

func TestUnicastInterface(t *testing.T) {
	if os.Geteuid() != 0 {
		t.Skip("SO_BINDTODEVICE may need CAP_NET_RAW; run as root")
	}
	lo := netnstest.Loopback(t).Name
	s, err := netspec.Parse("127.0.0.1:1@" + lo)
	if err != nil {
		t.Fatal(err)
	}
	s.Addr = netip.AddrPortFrom(s.Addr.Addr(), 0)
	c := listen(t, s, Options{})
	col := collect(t, c)
	send(t, c.LocalAddr(), payload(3))
	if got := col.datagrams(t, 1); !bytes.Equal(got[0], payload(3)) {
		t.Fatalf("got %q", got[0])
	}
}

func TestListenErrors(t *testing.T) {
	tests := []struct {
		spec string
		want string
	}{
		{"127.0.0.1:1@rgapnosuch0", `interface "rgapnosuch0"`},
		{"127.0.0.1:1@198.51.100.0/24", "no interface has an address in 198.51.100.0/24"},
		{"[ff02::8271]:8271", "name the interface with @iface"},
		{"[ff01::8271]:8271", "name the interface with @iface"},
		{"192.0.2.1:8271", "cannot assign requested address"}, // not a local address
	}
	for _, tt := range tests {
		t.Run(tt.spec, func(t *testing.T) {
			s, err := netspec.Parse(tt.spec)
			if err != nil {
				t.Fatal(err)
			}
			c, err := Listen(s, Options{})
			if err == nil {
				_ = c.Close()
				t.Fatalf("Listen(%s) succeeded, want error containing %q", tt.spec, tt.want)
			}
			if !strings.Contains(err.Error(), strconv.Quote(tt.spec)) || !strings.Contains(err.Error(), tt.want) {
				t.Errorf("error %q: want the spec %q and %q", err, tt.spec, tt.want)
			}
		})
	}
}

func testLogger(w *syncbuf.Buffer) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Output: w, Level: hclog.Warn, DisableTime: true})
}

func TestCheckReceiveBuffer(t *testing.T) {
	tests := []struct {
		asked, reported, granted int
		warn                     bool
	}{
		{asked: 4 << 20, reported: 8 << 20, granted: 4 << 20},
		{asked: 4 << 20, reported: 16 << 20, granted: 8 << 20},
		{asked: 4 << 20, reported: 2 * 212992, granted: 212992, warn: true},
		{asked: 4 << 20, reported: 8<<20 - 2, granted: 4<<20 - 1, warn: true},
	}
	for _, tt := range tests {
		t.Run(fmt.Sprint(tt.asked, "/", tt.reported), func(t *testing.T) {
			var out syncbuf.Buffer
			if g := checkReceiveBuffer(testLogger(&out), tt.asked, tt.reported); g != tt.granted {
				t.Errorf("granted = %d, want %d", g, tt.granted)
			}
			logged := out.String()
			if !tt.warn {
				if logged != "" {
					t.Errorf("unexpected log output %q", logged)
				}
				return
			}
			for _, want := range []string{"[WARN]", fmt.Sprintf("asked=%d", tt.asked), fmt.Sprintf("granted=%d", tt.granted), "net.core.rmem_max"} {
				if !strings.Contains(logged, want) {
					t.Errorf("log %q does not contain %q", logged, want)
				}
			}
		})
	}
}

// TestReceiveBufferCapped asks for more than net.core.rmem_max without
// SO_RCVBUFFORCE and expects the kernel's cap to be reported.
func TestReceiveBufferCapped(t *testing.T) {
	raw, err := os.ReadFile("/proc/sys/net/core/rmem_max")
	if err != nil {
		t.Skipf("cannot read rmem_max: %v", err)
	}
	rmemMax, err := strconv.Atoi(strings.TrimSpace(string(raw)))
	if err != nil {
		t.Fatal(err)
	}
	var out syncbuf.Buffer
	asked := rmemMax + 4096
	listen(t, spec(t, "127.0.0.1", 0), Options{ReceiveBuffer: asked, Logger: testLogger(&out), noForce: true})
	logged := out.String()
	for _, want := range []string{"[WARN]", fmt.Sprintf("asked=%d", asked), fmt.Sprintf("granted=%d", rmemMax), `listen=127.0.0.1:0`} {
		if !strings.Contains(logged, want) {
			t.Errorf("log %q does not contain %q", logged, want)
		}
	}

	if os.Geteuid() != 0 {
		return
	}
	// As root SO_RCVBUFFORCE lifts the cap: no warning.
	var forced syncbuf.Buffer
	listen(t, spec(t, "127.0.0.1", 0), Options{ReceiveBuffer: asked, Logger: testLogger(&forced)})
	if s := forced.String(); s != "" {
		t.Errorf("with SO_RCVBUFFORCE as root, got log %q, want none", s)
	}
}
