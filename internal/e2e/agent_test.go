package e2e

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"testing"
	"time"
)

// agentUsageCase is an agent command line that must be refused as a usage
// error.
type agentUsageCase struct {
	name string
	env  []string // added to RGAP_PSK and RGAP_ADDRESS=127.1.2.3
	args []string // after agent -g 1000 -d ADDRESS
	want string   // regexp on stderr
}

// checkAgentUsageErrors runs each case as a subtest and fails it unless the
// agent exits with status 2 and a stderr that matches want.
func checkAgentUsageErrors(t *testing.T, cases []agentUsageCase) {
	dst := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t, "udp4", "127.0.0.1"))
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			env := append([]string{"RGAP_PSK=" + psk1, "RGAP_ADDRESS=127.1.2.3"}, tc.env...)
			args := append([]string{"agent", "-g", "1000", "-d", dst}, tc.args...)
			code, stderr := runAgentBriefly(t, env, args...)
			if code != 2 || !regexp.MustCompile(tc.want).MatchString(stderr) {
				t.Errorf("exit %d, stderr %q; want exit 2 and %q", code, stderr, tc.want)
			}
		})
	}
}

// runAgentBriefly runs rgap with args for at most 5s; an agent that should
// have refused its command line but announces instead is killed and shows
// as exit code -1.
func runAgentBriefly(t *testing.T, env []string, args ...string) (int, string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, rgapBin, args...) //nolint:gosec // the rgap binary TestMain built
	cmd.Env = append(os.Environ(), env...)
	var stderr strings.Builder
	cmd.Stderr = &stderr
	if err := cmd.Run(); cmd.ProcessState == nil { // an exit status is what the caller checks; no status means rgap did not run
		t.Fatalf("rgap %v: %v", args, err)
	}
	return cmd.ProcessState.ExitCode(), stderr.String()
}

// TestAgentRefusesAtStart: an address a listener would drop, and an
// interval under 10ms, are command-line errors: exit 2, one line saying
// what is wrong, with no repeated "agent:" prefix.
func TestAgentRefusesAtStart(t *testing.T) {
	dst := fmt.Sprintf("127.0.0.1:%d", freeUDPPort(t, "udp4", "127.0.0.1"))
	env := []string{"RGAP_PSK=" + psk1}
	tests := []struct {
		name string
		args []string
		want string // regexp on stderr
	}{
		{"unspecified IPv4", []string{"-a", "0.0.0.0"}, `^rgap agent: --address "0\.0\.0\.0": unspecified address is not a unicast host address\n$`},
		{"unspecified IPv6", []string{"-a", "::"}, `--address "::": unspecified address`},
		{"multicast IPv4", []string{"-a", "224.0.0.1"}, `--address "224\.0\.0\.1": multicast address`},
		{"multicast IPv6", []string{"-a", "ff02::1"}, `--address "ff02::1": multicast address`},
		{"limited broadcast", []string{"-a", "255.255.255.255"}, `--address "255\.255\.255\.255": limited-broadcast address`},
		{"link-local IPv6", []string{"-a", "fe80::1"}, `--address "fe80::1": link-local address`},
		{"link-local IPv4", []string{"-a", "169.254.7.7"}, `--address "169\.254\.7\.7": link-local address`},
		{"interval 1ms", []string{"-a", "127.0.0.1", "-i", "1ms"}, `^rgap agent: --interval 1ms: below the minimum of 10ms`},
		{"interval 9ms", []string{"-a", "127.0.0.1", "-i", "9ms"}, `--interval 9ms: below the minimum of 10ms`},
	}
	for _, tc := range tests {
		t.Run(tc.name, func(t *testing.T) {
			args := append([]string{"agent", "-g", "1000", "-d", dst}, tc.args...)
			code, stderr := runAgentBriefly(t, env, args...)
			if code != 2 {
				t.Errorf("exit %d, want 2; stderr: %s", code, stderr)
			}
			if !regexp.MustCompile(tc.want).MatchString(stderr) {
				t.Errorf("stderr %q does not match %q", stderr, tc.want)
			}
			if strings.Contains(stderr, "agent: agent:") {
				t.Errorf("stderr repeats its prefix: %q", stderr)
			}
		})
	}
}

// TestAgentUnreachableDestinationAtStartInNetns reproduces an agent given
// one destination without a route (192.0.2.1: the namespace has no default
// route) and one listener on loopback. Sending once, it reaches the
// listener and exits 1 naming the other destination. With an interval it
// keeps running, warns once about the unreachable destination and keeps
// announcing to the listener.
func TestAgentUnreachableDestinationAtStartInNetns(t *testing.T) {
	if !inNetns(t) {
		return
	}
	port := freeUDPPort(t, "udp4", "127.0.0.1")
	l := startListener(t, coreConfig(fmt.Sprintf("127.0.0.1:%d", port)))
	l.waitLog(10*time.Second, "listening", msgIs("listening"))
	const unreachable = "192.0.2.1:8271"
	good := fmt.Sprintf("127.0.0.1:%d", port)
	env := []string{"RGAP_PSK=" + psk1, "RGAP_ADDRESS=127.1.2.3"}

	code, stderr := runAgentBriefly(t, env, "agent", "-g", "1000", "-d", unreachable, "-d", good)
	want := `rgap agent: destination "` + unreachable + `": connect: network is unreachable` + "\n"
	if code != 1 || stderr != want {
		t.Errorf("send once: exit %d, stderr %q; want exit 1 and %q", code, stderr, want)
	}

	a := start(t, t.TempDir(), env, "agent", "-g", "1000", "-i", "100ms", "-d", unreachable, "-d", good)
	ann := a.waitLog(10*time.Second, "announcing", msgIs("announcing"))
	if got := ann.str("interval"); got != "100ms" {
		t.Errorf("announcing: interval=%q, want \"100ms\"", got)
	}
	warn := a.waitLog(10*time.Second, "a warning naming "+unreachable, func(x logLine) bool {
		return x.str("@level") == "warn" && x.str("destination") == unreachable
	})
	if got := warn.str("error"); got != "connect: network is unreachable" {
		t.Errorf("warning error=%q, want the cause without the addresses repeated", got)
	}
	time.Sleep(700 * time.Millisecond)
	if n := a.count(func(x logLine) bool { return x.str("@level") == "warn" }); n != 1 {
		t.Errorf("%d warnings, want 1 for one unreachable destination", n)
	}
	a.stop(5 * time.Second)
	tot := totals(t, l)
	// One announcement from the single send, then at least 3 in 700ms.
	if tot.num("joined") != 1 || tot.num("accepted") < 4 {
		t.Fatalf("want 1 join and >= 4 accepted announcements; totals %v", tot)
	}
}
