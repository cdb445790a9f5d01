package e2e

import (
	"encoding/binary"
	"fmt"
	"net/netip"
	"regexp"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/netnstest"
	"github.com/rgap-project/rgap/internal/protocol"
)

const (
	psk1 = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"
	psk2 = "000102030405060708090a0b0c0d0e0f101112131415161718191a1b1c1d1e1f"
)

// coreConfig is a listener configuration without outputs.
func coreConfig(listen ...string) string {
	var b strings.Builder
	b.WriteString("listen:\n")
	for _, l := range listen {
		fmt.Fprintf(&b, "  - %q\n", l)
	}
	fmt.Fprintf(&b, "groups:\n  - id: 1000\n    psk: %s\n    expire: 15s\n    clock_skew: 10s\n", psk1)
	return b.String()
}

func startListener(t *testing.T, cfg string, extraArgs ...string) *proc {
	t.Helper()
	dir := t.TempDir()
	path := writeConfig(t, dir, cfg)
	p := start(t, dir, nil, append([]string{"listener", "-c", path}, extraArgs...)...)
	return p
}

func totals(t *testing.T, p *proc) logLine {
	t.Helper()
	p.stop(10 * time.Second)
	return p.waitLog(time.Second, `"ingest totals"`, msgIs("ingest totals"))
}

func TestAgentAnnouncesToListenerIPv4AndIPv6(t *testing.T) {
	p4 := freeUDPPort(t, "udp4", "127.0.0.1")
	p6 := freeUDPPort(t, "udp6", "::1")
	l := startListener(t, coreConfig(fmt.Sprintf("127.0.0.1:%d", p4), fmt.Sprintf("[::1]:%d", p6)))
	l.waitLog(10*time.Second, "listening on [::1]", func(x logLine) bool {
		return x.msg() == "listening" && strings.HasPrefix(x.str("address"), "[::1]")
	})

	for _, tc := range []struct{ addr, dst string }{
		{"127.1.2.3", fmt.Sprintf("127.0.0.1:%d", p4)},
		{"2001:db8::1", fmt.Sprintf("[::1]:%d", p6)},
		{"::ffff:203.0.113.7", fmt.Sprintf("127.0.0.1:%d", p4)},
	} {
		code, _, stderr := runRgap(t, []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", tc.addr, "-d", tc.dst)
		if code != 0 {
			t.Fatalf("agent -a %s -d %s: exit %d: %s", tc.addr, tc.dst, code, stderr)
		}
	}
	tot := totals(t, l)
	if tot.num("accepted") != 3 || tot.num("joined") != 3 || tot.num("received") != 3 {
		t.Fatalf("want 3 received, accepted and joined; totals %v", tot)
	}
}

func TestAgentWithIntervalKeepsAnnouncing(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := startListener(t, coreConfig(fmt.Sprintf("127.0.0.1:%d", port)))
	l.waitLog(10*time.Second, "listening", msgIs("listening"))
	a := start(t, t.TempDir(), []string{"RGAP_PSK=" + psk1, "RGAP_ADDRESS=127.1.2.3"},
		"agent", "-g", "1000", "-i", "100ms", "-d", fmt.Sprintf("127.0.0.1:%d", port))
	time.Sleep(700 * time.Millisecond)
	a.stop(5 * time.Second)
	tot := totals(t, l)
	// One join, then refreshes; at least 3 sends in 700ms even on a loaded machine.
	if tot.num("joined") != 1 || tot.num("accepted") < 3 {
		t.Fatalf("want 1 join and >= 3 accepted announcements; totals %v", tot)
	}
}

// TestEveryRejectionReasonIsCounted sends one real datagram per drop reason
// to a running listener and checks its counters.
func TestEveryRejectionReasonIsCounted(t *testing.T) {
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := startListener(t, coreConfig(fmt.Sprintf("127.0.0.1:%d", port)))
	l.waitLog(10*time.Second, "listening", msgIs("listening"))

	key1, key2 := groupKey(t, psk1), groupKey(t, psk2)
	now := time.Now()
	sign := func(k *protocol.Key, g uint64, addr string, ts time.Time) []byte {
		return k.Append(nil, protocol.Announcement{Group: g, Timestamp: ts.UnixMicro(), Addr: netip.MustParseAddr(addr)})
	}
	valid := sign(key1, 1000, "192.0.2.10", now)
	badVersion := sign(key1, 1000, "192.0.2.11", now)
	binary.BigEndian.PutUint16(badVersion, 0x0200)
	tampered := sign(key1, 1000, "192.0.2.12", now)
	tampered[33] ^= 1

	dgrams := []struct {
		reason string
		b      []byte
	}{
		{"", valid},
		{"length", valid[:65]},
		{"length", append(append([]byte{}, valid...), 0)},
		{"length", []byte{}},
		{"version", badVersion},
		{"unknown_group", sign(key1, 1001, "192.0.2.13", now)},
		{"bad_mac", sign(key2, 1000, "192.0.2.14", now)},
		{"bad_mac", tampered},
		{"clock_skew", sign(key1, 1000, "192.0.2.15", now.Add(-time.Minute))},
		{"clock_skew", sign(key1, 1000, "192.0.2.16", now.Add(time.Minute))},
	}
	c := dialListener(t, port)
	want := map[string]uint64{}
	for _, d := range dgrams {
		if _, err := c.Write(d.b); err != nil {
			t.Fatal(err)
		}
		if d.reason != "" {
			want["dropped_"+d.reason]++
		}
	}
	// Datagrams over loopback are delivered synchronously into the socket
	// buffer; give the reader a moment to drain it before stopping.
	time.Sleep(300 * time.Millisecond)
	tot := totals(t, l)
	if tot.num("received") != uint64(len(dgrams)) {
		t.Fatalf("received %d of %d datagrams; totals %v", tot.num("received"), len(dgrams), tot)
	}
	if tot.num("accepted") != 1 {
		t.Errorf("accepted = %d, want 1", tot.num("accepted"))
	}
	for _, k := range []string{"dropped_length", "dropped_version", "dropped_unknown_group", "dropped_bad_mac", "dropped_clock_skew"} {
		if tot.num(k) != want[k] {
			t.Errorf("%s = %d, want %d", k, tot.num(k), want[k])
		}
	}
}

func TestCommandLineErrors(t *testing.T) {
	tests := []struct {
		name string
		env  []string
		args []string
		code int
		want string // regexp on stderr
	}{
		{"no command", nil, nil, 2, `Usage: rgap`},
		{"unknown command", nil, []string{"frobnicate"}, 2, `unknown command "frobnicate"`},
		{"agent without group", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-a", "127.0.0.1"}, 2, `--group is required`},
		{"agent bad group", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-g", "-1", "-a", "127.0.0.1"}, 2, `--group: want an integer`},
		{"agent short PSK", nil, []string{"agent", "-g", "1", "-a", "127.0.0.1", "-k", psk1[:63]}, 2, `--psk: .*64 hex characters, got 63`},
		{"agent PSK from env", []string{"RGAP_PSK=zz" + psk1[2:]}, []string{"agent", "-g", "1", "-a", "127.0.0.1"}, 2, `--psk: .*non-hex`},
		{"agent bad address", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-g", "1", "-a", "999.1.1.1"}, 2, `--address: not an IP address: "999.1.1.1"`},
		{"agent bad destination", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-g", "1", "-a", "127.0.0.1", "-d", "127.0.0.1"}, 2, `--dst`},
		{"agent unknown interface", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-g", "1", "-a", "127.0.0.1", "-d", "127.0.0.1:9@nosuchif0"}, 1, `nosuchif0`},
		{"agent bad interval", []string{"RGAP_PSK=" + psk1}, []string{"agent", "-g", "1", "-a", "127.0.0.1", "-i", "soon"}, 2, `not a duration`},
		{"bad log level", nil, []string{"--log-level", "loud", "version"}, 2, `--log-level`},
		{"listener missing config flag", nil, []string{"listener"}, 2, `--config is required`},
		{"listener missing file", nil, []string{"listener", "-c", "/nonexistent/rgap.yaml"}, 2, `/nonexistent/rgap.yaml`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			code, _, stderr := runRgap(t, tc.env, tc.args...)
			if code != tc.code {
				t.Errorf("exit %d, want %d; stderr: %s", code, tc.code, stderr)
			}
			if !regexp.MustCompile(tc.want).MatchString(stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tc.want)
			}
			if strings.Contains(stderr, psk1[8:40]) {
				t.Errorf("stderr shows the PSK: %s", stderr)
			}
		})
	}
}

func TestListenerConfigErrorNamesFileLineAndKey(t *testing.T) {
	dir := t.TempDir()
	path := writeConfig(t, dir, "listen:\n  - 127.0.0.1:1\ngroups:\n  - id: 1\n    psk: "+psk1+"\n    expire: 5s\n    expier: 6s\n")
	code, _, stderr := runRgap(t, nil, "listener", "-c", path)
	if code != 2 || !strings.Contains(stderr, path+":7") || !strings.Contains(stderr, "expier") {
		t.Fatalf("exit %d, stderr %q: want status 2 naming %s:7 and the key", code, stderr, path)
	}
}

func TestGenpskVersionHelp(t *testing.T) {
	code, out, _ := runRgap(t, nil, "genpsk")
	if code != 0 || !regexp.MustCompile(`^[0-9a-f]{64}\n$`).MatchString(out) {
		t.Fatalf("genpsk: exit %d, output %q", code, out)
	}
	_, out2, _ := runRgap(t, nil, "genpsk")
	if out == out2 {
		t.Fatal("two genpsk runs printed the same key")
	}
	if code, out, _ := runRgap(t, nil, "version"); code != 0 || !strings.HasPrefix(out, "rgap ") {
		t.Fatalf("version: exit %d, output %q", code, out)
	}
	for _, c := range []string{"agent", "listener", "genpsk"} {
		code, out, _ := runRgap(t, nil, "help", c)
		if code != 0 || !strings.Contains(out, "Usage: rgap "+c) {
			t.Fatalf("help %s: exit %d, output %q", c, code, out)
		}
	}
	code, out, _ = runRgap(t, nil, "help", "agent")
	if code != 0 {
		t.Fatalf("help agent: exit %d, output %q", code, out)
	}
	for _, opt := range []string{"-g, --group", "-a, --address", "-k, --psk", "-i, --interval", "-d, --dst", "RGAP_PSK", "239.82.71.65:8271", "--log-format"} {
		if !strings.Contains(out, opt) {
			t.Errorf("help agent lacks %q", opt)
		}
	}
}

// netnsSetup is the private network namespace (see netnstest) of the
// tests that use multicast: loopback up with multicast routed to it, and a
// veth pair for IPv6, since IPv6 multicast does not loop over lo.
const netnsSetup = `ip link set lo up
ip link set lo multicast on
ip route add 239.0.0.0/8 dev lo
ip link add rgap0 type veth peer name rgap1
ip link set rgap0 up
ip link set rgap1 up
ip -6 addr add fd52::1/64 dev rgap0 nodad
ip -6 addr add fd52::2/64 dev rgap1 nodad`

// inNetns runs the calling test inside a private network namespace and
// reports whether the caller is that child (and should run the test body).
// The child gets the rgap binary the parent built through binEnv.
func inNetns(t *testing.T) bool {
	t.Helper()
	return netnstest.Run(t, netnsSetup, binEnv+"="+rgapBin)
}

func TestMulticastAnnouncementsInNetns(t *testing.T) {
	if !inNetns(t) {
		return
	}
	l := startListener(t, coreConfig(
		"239.82.71.65:8271@lo",
		"239.82.71.66:8272@127.0.0.0/8",
		"[ff15::5267:6170]:8273@rgap1",
	))
	l.waitN(10*time.Second, 3, "listening x3", msgIs("listening"))
	for _, tc := range []struct{ addr, dst string }{
		{"10.0.0.1", "239.82.71.65:8271@lo"},
		{"10.0.0.2", "239.82.71.66:8272@127.0.0.0/8"},
		{"2001:db8::2", "[ff15::5267:6170]:8273@rgap0"},
	} {
		code, _, stderr := runRgap(t, []string{"RGAP_PSK=" + psk1}, "agent", "-g", "1000", "-a", tc.addr, "-d", tc.dst)
		if code != 0 {
			t.Fatalf("agent -d %s: exit %d: %s", tc.dst, code, stderr)
		}
	}
	time.Sleep(200 * time.Millisecond)
	tot := totals(t, l)
	if tot.num("joined") != 3 {
		t.Fatalf("want 3 joins over multicast; totals %v", tot)
	}
}
