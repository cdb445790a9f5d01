package agent

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/hashicorp/go-hclog"

	"github.com/rgap-project/rgap/internal/netspec"
	"github.com/rgap-project/rgap/internal/protocol"
	"github.com/rgap-project/rgap/internal/syncbuf"
)

// parseV2 parses and verifies a v2 datagram and returns its content.
func parseV2(t testing.TB, b []byte, k *protocol.Key) protocol.Announcement {
	t.Helper()
	return checkSized(t, b, k, protocol.SizeV2)
}

func TestNewProtocolVersion(t *testing.T) {
	base := func() Config {
		return Config{Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
			Destinations: []netspec.Spec{{Addr: netip.MustParseAddrPort("127.0.0.1:9")}}}
	}
	tests := []struct {
		name string
		edit func(*Config)
		want string // "" = accepted
	}{
		{"v1 default", func(*Config) {}, ""},
		{"v1 explicit", func(c *Config) { c.Version = protocol.Version }, ""},
		{"v2 with everything", func(c *Config) {
			c.Version, c.KeyID, c.Port, c.Weight = protocol.VersionV2, 3, 8080, 10
		}, ""},
		{"v1 port", func(c *Config) { c.Port = 8080 }, "port 8080: only protocol v2 can send this"},
		{"v1 weight", func(c *Config) { c.Weight = 5 }, "weight 5: only protocol v2 can send this"},
		{"v1 key id", func(c *Config) { c.KeyID = 2 }, "key id 2: only protocol v2 can send this"},
		{"v1 all", func(c *Config) { c.KeyID, c.Port, c.Weight = 1, 2, 3 }, "key id 1, port 2, weight 3: only protocol v2"},
		{"unknown version", func(c *Config) { c.Version = 0x0300 }, "unknown protocol version 0x0300"},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			cfg := base()
			tc.edit(&cfg)
			a, err := New(cfg)
			if a != nil {
				_ = a.Close()
			}
			switch {
			case tc.want == "" && err != nil:
				t.Fatalf("New = %v, want accepted", err)
			case tc.want != "" && (err == nil || !strings.Contains(err.Error(), tc.want)):
				t.Fatalf("New = %v, want an error containing %q", err, tc.want)
			}
		})
	}
}

func TestSendOnceV2(t *testing.T) {
	now := time.UnixMicro(1_750_000_000_123_456)
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	a := newAgent(t, Config{Version: protocol.VersionV2, Group: 42, Addr: netip.MustParseAddr("2001:db8::7"),
		Key: k, KeyID: 9, Port: 31044, Weight: 250, Destinations: []netspec.Spec{r.spec},
		Clock: func() time.Time { return now }})
	if err := a.SendOnce(); err != nil {
		t.Fatal(err)
	}
	b, _ := r.next(t)
	got := parseV2(t, b, k)
	want := protocol.Announcement{Version: protocol.VersionV2, Group: 42, Timestamp: now.UnixMicro(),
		Addr: netip.MustParseAddr("2001:db8::7"), KeyID: 9, Port: 31044, Weight: 250}
	if got != want {
		t.Fatalf("announcement = %v, want %v", got, want)
	}
	r.nothingMore(t)
}

// TestTimestampsStrictlyIncrease: a wall clock that stands still or steps
// back must not make the agent repeat or lower its timestamps, which a
// listener would drop as replays.
func TestTimestampsStrictlyIncrease(t *testing.T) {
	base := time.UnixMicro(1_700_000_000_000_000)
	clock := []time.Time{
		base,
		base,                       // same microsecond
		base.Add(-time.Hour),       // stepped back
		base.Add(-time.Hour),       //
		base.Add(time.Millisecond), // forward again, still after the last sent
		base.Add(time.Hour),        // well ahead: the clock wins
	}
	want := []int64{0, 1, 2, 3, 1000, 3_600_000_000}
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	i := 0
	a := newAgent(t, Config{Group: 7, Addr: netip.MustParseAddr("10.0.0.7"), Key: k,
		Destinations: []netspec.Spec{r.spec}, Clock: func() time.Time { return clock[i] }})
	for i = range clock {
		if err := a.SendOnce(); err != nil {
			t.Fatal(err)
		}
		b, _ := r.next(t)
		if got := checkAnnouncement(t, b, k).Timestamp - base.UnixMicro(); got != want[i] {
			t.Errorf("send %d (clock %+dµs): timestamp %+dµs from start, want %+d", i,
				clock[i].UnixMicro()-base.UnixMicro(), got, want[i])
		}
	}
}

func TestJitteredBounds(t *testing.T) {
	const iv = 10 * time.Second
	for _, tc := range []struct {
		r    float64
		want time.Duration
	}{
		{0, 9 * time.Second},
		{0.25, 9500 * time.Millisecond},
		{0.5, iv},
		{0.75, 10500 * time.Millisecond},
	} {
		if got := jittered(iv, tc.r); got != tc.want {
			t.Errorf("jittered(%s, %v) = %s, want %s", iv, tc.r, got, tc.want)
		}
	}
	if got := jittered(iv, 0.9999999); got >= 11*time.Second || got < 10999*time.Millisecond {
		t.Errorf("jittered(%s, just under 1) = %s, want just under 11s", iv, got)
	}
	// The agent's default source spreads waits over the whole ±10% band.
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
		Destinations: []netspec.Spec{{Addr: netip.MustParseAddrPort("127.0.0.1:9")}}})
	lo, hi := iv, iv
	for range 2000 {
		d := jittered(iv, a.cfg.Rand())
		if d < 9*time.Second || d >= 11*time.Second {
			t.Fatalf("wait %s outside [9s, 11s)", d)
		}
		lo, hi = min(lo, d), max(hi, d)
	}
	if lo > 9200*time.Millisecond || hi < 10800*time.Millisecond {
		t.Errorf("2000 waits span only [%s, %s]: not spread over ±10%%", lo, hi)
	}
}

// TestRunDrawsJitterPerTick: Run asks for a random number for every wait,
// so waits differ from one tick to the next.
func TestRunDrawsJitterPerTick(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	var draws atomic.Int32
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
		Interval: 10 * time.Millisecond, Destinations: []netspec.Spec{r.spec},
		Rand: func() float64 { draws.Add(1); return 0 }})
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	for range 4 {
		r.next(t)
	}
	cancel()
	if err := <-done; err != nil {
		t.Fatal(err)
	}
	if n := draws.Load(); n < 3 {
		t.Fatalf("%d random draws for 4 announcements, want one per wait", n)
	}
}

// runAgent starts Run in the background; stop cancels it and waits.
func runAgent(t *testing.T, a *Agent) (stop func()) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- a.Run(ctx) }()
	return func() {
		t.Helper()
		cancel()
		waitRun(t, done, "cancel")
	}
}

// waitRun waits up to 5s for Run, stopped by what, to return nil.
func waitRun(t *testing.T, done <-chan error, what string) {
	t.Helper()
	select {
	case err := <-done:
		if err != nil {
			t.Fatalf("Run = %v, want nil after %s", err, what)
		}
	case <-time.After(5 * time.Second):
		t.Fatalf("Run did not return within 5s of %s", what)
	}
}

// wantLeaves reads leaveCopies leave datagrams, each newer than after,
// and returns the last timestamp.
func wantLeaves(t *testing.T, r *receiver, k *protocol.Key, after int64) int64 {
	t.Helper()
	for i := range leaveCopies {
		b, _ := r.next(t)
		ann := parseV2(t, b, k)
		if !ann.Leave {
			t.Fatalf("datagram %d after the announcements: %v, want a leave", i, ann)
		}
		if ann.Timestamp <= after {
			t.Fatalf("leave %d timestamp %d not after %d", i, ann.Timestamp, after)
		}
		after = ann.Timestamp
	}
	return after
}

func TestRunLeavesOnStop(t *testing.T) {
	for _, version := range []uint16{protocol.Version, protocol.VersionV2} {
		t.Run(map[uint16]string{protocol.Version: "v1", protocol.VersionV2: "v2"}[version], func(t *testing.T) {
			r1, r2 := newReceiver(t, "127.0.0.1"), newReceiver(t, "127.0.0.1")
			k := key(t, testPSK)
			a := newAgent(t, Config{Version: version, Group: 5, Addr: netip.MustParseAddr("192.0.2.5"), Key: k,
				Interval: time.Hour, Destinations: []netspec.Spec{r1.spec, r2.spec}})
			stop := runAgent(t, a)
			var ts [2]int64
			for i, r := range []*receiver{r1, r2} {
				b, _ := r.next(t)
				ann, err := protocol.Parse(b)
				if err != nil || ann.Version != version || ann.Leave {
					t.Fatalf("first datagram %v (%v), want an announcement of version 0x%04x", ann, err, version)
				}
				ts[i] = ann.Timestamp
			}
			stop()
			if version == protocol.VersionV2 {
				for i, r := range []*receiver{r1, r2} {
					wantLeaves(t, r, k, ts[i])
				}
			}
			r1.nothingMore(t)
			r2.nothingMore(t)
		})
	}
}

// TestRunCloseDoesNotLeave: Close is the error path; it stops Run without
// sending anything more.
func TestRunCloseDoesNotLeave(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	a := newAgent(t, Config{Version: protocol.VersionV2, Addr: netip.MustParseAddr("192.0.2.1"), Key: key(t, testPSK),
		Interval: time.Hour, Destinations: []netspec.Spec{r.spec}})
	stop := runAgent(t, a)
	r.next(t)
	if err := a.Close(); err != nil {
		t.Fatal(err)
	}
	stop()
	r.nothingMore(t)
}

// drainLogs counts the agent's drain transition lines.
func drainLogs(logs *syncbuf.Buffer) (in, out int) {
	s := logs.String()
	return strings.Count(s, "drained: not announcing"), strings.Count(s, "drain over: announcing again")
}

// TestDrainFile: creating the drain file stops announcements (after a
// leave in v2); removing it announces at once, although the interval is an
// hour; each transition is logged once.
func TestDrainFile(t *testing.T) {
	for _, version := range []uint16{protocol.Version, protocol.VersionV2} {
		t.Run(map[uint16]string{protocol.Version: "v1", protocol.VersionV2: "v2"}[version], func(t *testing.T) {
			r := newReceiver(t, "127.0.0.1")
			k := key(t, testPSK)
			drain := filepath.Join(t.TempDir(), "drain")
			var logs syncbuf.Buffer
			a := newAgent(t, Config{Version: version, Addr: netip.MustParseAddr("192.0.2.9"), Key: k,
				Interval: time.Hour, Destinations: []netspec.Spec{r.spec}, DrainFile: drain,
				Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
			stop := runAgent(t, a)
			b, _ := r.next(t)
			first, _ := protocol.Parse(b)

			if err := os.WriteFile(drain, nil, 0o600); err != nil {
				t.Fatal(err)
			}
			last := first.Timestamp
			if version == protocol.VersionV2 {
				last = wantLeaves(t, r, k, last)
			}
			time.Sleep(2 * drainPoll) // polls that see the file again change nothing
			r.nothingMore(t)

			if err := os.Remove(drain); err != nil {
				t.Fatal(err)
			}
			b, _ = r.next(t) // within 5s, although the interval is an hour
			ann, err := protocol.Parse(b)
			if err != nil || ann.Leave || ann.Timestamp <= last {
				t.Fatalf("after the drain: %v (%v), want a fresh announcement", ann, err)
			}
			time.Sleep(2 * drainPoll)
			stop()
			if in, out := drainLogs(&logs); in != 1 || out != 1 {
				t.Errorf("drain logged %d times in and %d out, want once each; log:\n%s", in, out, logs.String())
			}
			if !strings.Contains(logs.String(), "reason=\"drain file "+drain+" exists\"") {
				t.Errorf("drain log does not give the file as the reason:\n%s", logs.String())
			}
		})
	}
}

// TestDrainFileAtStart: an agent started drained announces nothing until
// the file goes.
func TestDrainFileAtStart(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	drain := filepath.Join(t.TempDir(), "drain")
	if err := os.WriteFile(drain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a := newAgent(t, Config{Addr: netip.MustParseAddr("192.0.2.9"), Key: k,
		Interval: 10 * time.Millisecond, Destinations: []netspec.Spec{r.spec}, DrainFile: drain})
	stop := runAgent(t, a)
	defer stop()
	r.nothingMore(t)
	if err := os.Remove(drain); err != nil {
		t.Fatal(err)
	}
	checkAnnouncement(t, func() []byte { b, _ := r.next(t); return b }(), k)
}

// TestToggleDrain: the switch (SIGUSR1 in rgap agent) drains and resumes
// like the file; with both on, turning one off keeps the agent drained.
func TestToggleDrain(t *testing.T) {
	r := newReceiver(t, "127.0.0.1")
	k := key(t, testPSK)
	drain := filepath.Join(t.TempDir(), "drain")
	var logs syncbuf.Buffer
	a := newAgent(t, Config{Version: protocol.VersionV2, Addr: netip.MustParseAddr("192.0.2.9"), Key: k,
		Interval: time.Hour, Destinations: []netspec.Spec{r.spec}, DrainFile: drain,
		Logger: hclog.New(&hclog.LoggerOptions{Output: &logs, Level: hclog.Info})})
	stop := runAgent(t, a)
	b, _ := r.next(t)
	last := parseV2(t, b, k).Timestamp

	a.ToggleDrain() // on
	last = wantLeaves(t, r, k, last)
	r.nothingMore(t)
	if !strings.Contains(logs.String(), "SIGUSR1") {
		t.Errorf("drain log does not give the switch as the reason:\n%s", logs.String())
	}
	if err := os.WriteFile(drain, nil, 0o600); err != nil {
		t.Fatal(err)
	}
	a.ToggleDrain() // off, but the file holds it
	time.Sleep(2 * drainPoll)
	r.nothingMore(t)
	if err := os.Remove(drain); err != nil {
		t.Fatal(err)
	}
	b, _ = r.next(t)
	if ann := parseV2(t, b, k); ann.Leave || ann.Timestamp <= last {
		t.Fatalf("after both switches off: %v, want a fresh announcement", ann)
	}
	stop()
	wantLeaves(t, r, k, 0)
	if in, out := drainLogs(&logs); in != 1 || out != 1 {
		t.Errorf("drain logged %d times in and %d out, want once each; log:\n%s", in, out, logs.String())
	}
}
