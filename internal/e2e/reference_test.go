package e2e

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/miekg/dns"
)

// refConfigPath is the configuration example of the reference README, copied
// verbatim (comments included) by the config package's tests.
const refConfigPath = "../config/testdata/reference.yaml"

// refKinds are the six output kinds the reference example configures.
var refKinds = []string{"noop", "log", "eventlog", "hostsfile", "dns", "command"}

// TestReferenceConfigRunsAllOutputs runs the listener with the reference
// configuration example exactly as published: its fixed ports (8271
// multicast, 8282, DNS on :8253) and multicast join are why it runs inside a
// private network namespace. It checks what a user trying the example would
// see: every output starts, agents over multicast (the agent's default
// destination) and unicast are heard, nothing is published before the
// 15s readiness delay, then DNS and the hosts file show the members, the
// command output's missing program fails loudly without taking the listener
// down, and SIGTERM exits cleanly.
func TestReferenceConfigRunsAllOutputs(t *testing.T) {
	if !inNetns(t) {
		return
	}
	cfg, err := filepath.Abs(refConfigPath)
	if err != nil {
		t.Fatal(err)
	}
	dir := t.TempDir() // the listener's working directory: hostsfile writes "hosts" here
	hostsPath := filepath.Join(dir, "hosts")
	l := start(t, dir, nil, "listener", "-c", cfg, "--log-level", "debug")

	for _, kind := range refKinds {
		l.waitLog(30*time.Second, "output plugin running (kind "+kind+")", func(x logLine) bool {
			return x.msg() == "output plugin running" && x.str("kind") == kind
		})
	}
	for _, addr := range []string{"239.82.71.65:8271", "127.0.0.1:8282"} {
		l.waitLog(10*time.Second, "listening on "+addr, func(x logLine) bool {
			return x.msg() == "listening" && x.str("address") == addr
		})
	}
	running := l.waitLog(10*time.Second, `"group registry running"`, msgIs("group registry running"))
	dnsUp := l.waitLog(10*time.Second, `"dns server listening"`, func(x logLine) bool {
		return x.msg() == "dns server listening" && x.str("kind") == "dns"
	})
	if !strings.HasSuffix(dnsUp.str("udp"), ":8253") || !strings.HasSuffix(dnsUp.str("tcp"), ":8253") {
		t.Fatalf("dns output bound %v, want port 8253 (UDP and TCP)", dnsUp)
	}

	// Agents keep announcing (-i 1s) so that their addresses are still live
	// when the 15s readiness delay ends (expire is 15s as well). The first
	// one uses the agent's default destination, the example's multicast group.
	env := []string{"RGAP_PSK=8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"}
	mc := start(t, t.TempDir(), env, "agent", "-g", "1000", "-a", "10.1.1.1", "-i", "1s")
	uc := start(t, t.TempDir(), env, "agent", "-g", "1000", "-a", "10.1.1.2", "-i", "1s", "-d", "127.0.0.1:8282")
	ann := mc.waitLog(10*time.Second, `"announcing"`, msgIs("announcing"))
	if !strings.Contains(ann.str("destinations"), "239.82.71.65:8271") {
		t.Errorf("agent without --dst announces to %q, want the default 239.82.71.65:8271", ann.str("destinations"))
	}
	for _, addr := range []string{"10.1.1.1", "10.1.1.2"} {
		l.waitLog(10*time.Second, "eventlog join of "+addr, func(x logLine) bool {
			return x.msg() == "address joined" && x.str("kind") == "eventlog" &&
				x.str("address") == addr && x.str("group") == "1000"
		})
	}

	// Not ready yet: DNS refuses to guess, the hosts file is not written and
	// the command has not run.
	if l.count(msgIs("group ready")) != 0 {
		t.Fatal("group 1000 was ready before this test could look at the readiness window; machine too slow?")
	}
	if r := refQuery(t, "worker.example.com", dns.TypeA); r.Rcode != dns.RcodeServerFailure {
		t.Errorf("before ready: worker.example.com A got %s, want SERVFAIL", dns.RcodeToString[r.Rcode])
	}
	if _, err := os.Stat(hostsPath); !os.IsNotExist(err) {
		t.Errorf("hosts file exists before the group is ready (stat: %v)", err)
	}
	if n := l.count(func(x logLine) bool {
		return x.str("kind") == "command" && strings.HasPrefix(x.msg(), "command failed")
	}); n != 0 {
		t.Errorf("command ran %d times before the group was ready", n)
	}
	if l.count(msgIs("group ready")) != 0 {
		t.Fatal("group 1000 became ready while the not-ready checks ran; machine too slow?")
	}

	ready := l.waitLog(30*time.Second, `"group ready"`, func(x logLine) bool {
		return x.msg() == "group ready" && x.str("group") == "1000"
	})
	if d := refTime(t, ready).Sub(refTime(t, running)); d < 15*time.Second-100*time.Millisecond {
		t.Errorf("group ready %v after the registry started, want the readiness_delay of 15s", d)
	}

	want := []string{"10.1.1.1", "10.1.1.2"}
	for _, name := range []string{"worker.example.com", "Worker.Example.ORG."} {
		var got []string
		deadline := time.Now().Add(5 * time.Second)
		for {
			r := refQuery(t, name, dns.TypeA)
			got, _ = dnsA(r) // the A query: only its A records matter
			if r.Rcode == dns.RcodeSuccess && slices.Equal(got, want) {
				if !r.Authoritative {
					t.Errorf("%s A: AA bit not set", name)
				}
				break
			}
			if time.Now().After(deadline) {
				t.Fatalf("after ready: %s A got %s %v, want NOERROR %v", name, dns.RcodeToString[r.Rcode], got, want)
			}
			time.Sleep(100 * time.Millisecond)
		}
	}
	if r := refQuery(t, "other.example.com", dns.TypeA); r.Rcode != dns.RcodeRefused {
		t.Errorf("unmapped name got %s, want REFUSED", dns.RcodeToString[r.Rcode])
	}

	golden, err := os.ReadFile(filepath.Join("testdata", "reference", "hosts.golden"))
	if err != nil {
		t.Fatal(err)
	}
	deadline := time.Now().Add(10 * time.Second)
	for {
		b, err := os.ReadFile(hostsPath)
		if err == nil && string(b) == string(golden) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("hosts file after ready (err %v):\n%s\nwant:\n%s", err, b, golden)
		}
		time.Sleep(100 * time.Millisecond)
	}

	// The command's program does not exist: every attempt fails, the last
	// one as an error naming the program, and the listener carries on.
	l.waitLog(15*time.Second, "command retry warning", func(x logLine) bool {
		return x.msg() == "command failed, retrying" && x.str("kind") == "command" && x.str("command") == "/home/user/sync.sh"
	})
	failed := l.waitLog(15*time.Second, "command failure error", func(x logLine) bool {
		return x.msg() == "command failed" && x.str("kind") == "command"
	})
	if failed.str("@level") != "error" || failed.str("command") != "/home/user/sync.sh" ||
		failed.num("attempts") != 3 || !strings.Contains(failed.str("error"), "/home/user/sync.sh") {
		t.Errorf("command failure logged as %v, want an error naming /home/user/sync.sh after 3 attempts", failed)
	}
	if r := refQuery(t, "worker.example.com", dns.TypeA); r.Rcode != dns.RcodeSuccess || len(r.Answer) != 2 {
		t.Errorf("after the command failed, DNS answers %s with %d records", dns.RcodeToString[r.Rcode], len(r.Answer))
	}
	if n := l.count(func(x logLine) bool {
		return x.msg() == "output plugin failed; restarting" || x.msg() == "output not started"
	}); n != 0 {
		t.Errorf("%d output failures logged", n)
	}

	mc.stop(5 * time.Second)
	uc.stop(5 * time.Second)
	l.stop(5 * time.Second)
}

// refQuery asks the reference example's DNS output (UDP 127.0.0.1:8253).
func refQuery(t *testing.T, name string, qtype uint16) *dns.Msg {
	t.Helper()
	r, err := dnsQuery("127.0.0.1:8253", name, qtype, 3*time.Second)
	if err != nil {
		t.Fatalf("query %s %s: %v", name, dns.TypeToString[qtype], err)
	}
	return r
}

// refTime is the @timestamp of a log line.
func refTime(t *testing.T, l logLine) time.Time {
	t.Helper()
	ts, err := time.Parse(time.RFC3339Nano, l.str("@timestamp"))
	if err != nil {
		t.Fatalf("log line %v: bad @timestamp: %v", l, err)
	}
	return ts
}
