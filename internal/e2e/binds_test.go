package e2e

// End-to-end tests of the start-up checks that keep an output from running
// when it cannot work: addresses that two outputs, or an output and a
// listen entry, would both bind (issue 8, defect 9), and the sha256 pins
// `rgap plugins -c` must honour before executing anything (defect 8).
// Helpers here carry the binds prefix.

import (
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"time"
)

// TestBindsClashRefusedAtStart: a configuration in which two outputs, or an
// output and a listen entry, would bind the same address is refused at
// start-up as a configuration error (exit 2), naming both and the address,
// instead of an output restarting forever on "address already in use".
func TestBindsClashRefusedAtStart(t *testing.T) {
	listen, dns := plugPorts(t)
	q := regexp.QuoteMeta
	tests := []struct {
		name    string
		outputs string
		want    string // regexp on stderr
	}{
		{
			"two dns outputs on one address",
			plugDNSOutput(dns) + plugDNSOutput(dns),
			`output 0 \(kind "dns"\) at \S+rgap\.yaml:9 and output 1 \(kind "dns"\) at \S+rgap\.yaml:15 both bind udp ` + q(fmt.Sprintf("127.0.0.1:%d", dns)),
		},
		{
			"a wildcard over a specific address",
			plugDNSOutput(dns) + dnsOutput(fmt.Sprintf(":%d", dns), "app.test"),
			`output 1 \(kind "dns"\) at \S+rgap\.yaml:15 binds udp ` + q(fmt.Sprintf(":%d (every address)", dns)) +
				`, which overlaps udp ` + q(fmt.Sprintf("127.0.0.1:%d", dns)) + ` bound by output 0 \(kind "dns"\) at \S+rgap\.yaml:9`,
		},
		{
			"dns on the listen address",
			plugDNSOutput(listen),
			q(fmt.Sprintf("listen entry 127.0.0.1:%d at ", listen)) + `\S+rgap\.yaml:2:\d+ and output 0 \(kind "dns"\) at \S+rgap\.yaml:9 both bind udp ` +
				q(fmt.Sprintf("127.0.0.1:%d", listen)),
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), plugConfig(listen, "5s", "", tt.outputs))
			code, _, stderr := runRgap(t, nil, "--log-format", "json", "listener", "-c", path)
			if code != 2 {
				t.Errorf("exit status %d, want 2 (a configuration error)", code)
			}
			if !regexp.MustCompile(tt.want).MatchString(stderr) {
				t.Errorf("stderr does not match %q:\n%s", tt.want, stderr)
			}
			if strings.Contains(stderr, `"listening"`) {
				t.Errorf("the listener opened its sockets despite the clash:\n%s", stderr)
			}
		})
	}
}

// TestBindsNoClashStarts: outputs on distinct addresses, one of them on the
// listen port of another address, start as before.
func TestBindsNoClashStarts(t *testing.T) {
	listen, dns := plugPorts(t)
	out := plugDNSOutput(dns) + dnsOutput(fmt.Sprintf("127.0.0.2:%d", listen), "app.test")
	l := plugListener(t, plugConfig(listen, "5s", "", out), nil)
	plugAnnounce(t, listen, "127.1.2.3")
	plugWaitDNS(t, dns, 15*time.Second, "127.1.2.3")
	l.stop(20 * time.Second)
	plugNoCrash(t, l)
}

// TestBindsPluginsCommandChecksPins: `rgap plugins -c FILE` checks the
// outputs' sha256 pins before running anything. A file that does not match
// is never executed, its STATUS says "sha256 mismatch", and the exit status
// is 1; a file that matches its pin is run as before.
func TestBindsPluginsCommandChecksPins(t *testing.T) {
	dir := plugDir(t)
	markers := t.TempDir()
	wrong := plugScript(t, dir, "wrong", "touch "+filepath.Join(markers, "wrong")+"\nexit 1\n")
	right := plugScript(t, dir, "right", "touch "+filepath.Join(markers, "right")+"\nexit 1\n")
	outputs := "  - kind: wrong\n    sha256: " + plugSHA256(t, right) + "\n" +
		"  - kind: right\n    sha256: " + plugSHA256(t, right) + "\n"
	path := writeConfig(t, t.TempDir(), plugConfig(freeUDPPort(t, "udp4", "127.0.0.1"), "5s", "plugins_dir: "+dir+"\n", outputs))

	code, stdout, stderr := runRgap(t, nil, "plugins", "-c", path)
	if code != 1 {
		t.Errorf("exit status %d, want 1; stderr: %s", code, stderr)
	}
	row := regexp.MustCompile(`(?m)^wrong\s+` + regexp.QuoteMeta(wrong) + `\s+-\s+-\s+refused: output 0 \(kind "wrong"\) at \S+:\d+: sha256 mismatch`)
	if !row.MatchString(stdout) {
		t.Errorf("no row for the mismatching plugin matching %q:\n%s", row, stdout)
	}
	if _, err := os.Stat(filepath.Join(markers, "wrong")); err == nil {
		t.Error("the plugin whose pin does not match was executed")
	}
	// The matching plugin was run (and, being a script that exits, failed
	// to start; that is not a pin problem).
	if _, err := os.Stat(filepath.Join(markers, "right")); err != nil {
		t.Errorf("the plugin that matches its pin was not run: %v", err)
	}
	if m := regexp.MustCompile(`(?m)^right\s.*$`).FindString(stdout); strings.Contains(m, "sha256") {
		t.Errorf("the matching plugin's row blames its pin: %s", m)
	}
}
