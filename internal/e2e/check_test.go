package e2e

// `rgap check -c FILE` through the real binary: a valid file is summarised
// in one line with status 0; a broken one gives status 2 and every fault,
// each naming its place, without opening a socket or running anything but
// the plugins' validation.

import (
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
)

func TestCheckValidConfig(t *testing.T) {
	listen, dns := plugPorts(t)
	path := writeConfig(t, t.TempDir(), plugConfig(listen, "5s", "", "  - kind: eventlog\n"+plugDNSOutput(dns)))
	code, stdout, stderr := runRgap(t, nil, "check", "-c", path)
	if code != 0 {
		t.Fatalf("rgap check exit %d, want 0; stderr:\n%s", code, stderr)
	}
	want := path + ": ok: 1 listen entry, 1 group, 2 outputs (eventlog, dns)\n"
	if stdout != want {
		t.Errorf("stdout = %q, want %q", stdout, want)
	}
	// Nothing was bound: both ports are still free.
	for _, port := range []int{listen, dns} {
		c, err := net.ListenPacket("udp4", fmt.Sprintf("127.0.0.1:%d", port))
		if err != nil {
			t.Errorf("port %d is taken after rgap check: %v", port, err)
			continue
		}
		_ = c.Close()
	}
}

func TestCheckReportsEveryFault(t *testing.T) {
	dir := plugDir(t)
	hello := plugHello(t, dir)
	marker := filepath.Join(t.TempDir(), "marker")
	plugScript(t, dir, "marker", "touch "+marker+"\nexit 1\n")
	wrongPin := plugSHA256(t, hello) // a real digest, of another file
	listen, dns := plugPorts(t)
	q := regexp.QuoteMeta

	tests := []struct {
		name string
		cfg  string
		want []string // each a regexp on stderr
	}{
		{"syntax and keys", "listen:\n  - 127.0.0.1:1\ngroups:\n  - id: 1\n    psk: nothex\n    expire: 5s\n    bogus: 1\n",
			[]string{`rgap\.yaml:5:\d+: groups\[0\]\.psk`, `rgap\.yaml:7:\d+: groups\[0\]: unknown key "bogus"`}},
		{"a spec the plugin rejects", plugConfig(listen, "5s", "", "  - kind: dns\n    spec:\n      bind_adress: 127.0.0.1:53\n"), //nolint:misspell // a misspelt key on purpose: the plugin must reject it
			[]string{`output 0 \(kind "dns"\)`, `rgap\.yaml:\d+`, `bind_adress`}}, //nolint:misspell // the misspelt key above, named in the error
		{"a bind clash", plugConfig(listen, "5s", "", plugDNSOutput(listen)),
			[]string{`listen entry`, `output 0 \(kind "dns"\)`, q(fmt.Sprintf("127.0.0.1:%d", listen))}},
		{"a wrong pin, another output's bad spec and a clash, all at once",
			plugConfig(listen, "5s", "", "  - kind: marker\n    sha256: "+wrongPin+"\n  - kind: eventlog\n    spec:\n      nope: 1\n"+
				plugDNSOutput(dns)+plugDNSOutput(dns)),
			[]string{`output 0 \(kind "marker"\).*mismatch`, `output 1 \(kind "eventlog"\)`, `output 2 \(kind "dns"\).*output 3 \(kind "dns"\).*both bind`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := writeConfig(t, t.TempDir(), tt.cfg)
			code, stdout, stderr := runRgap(t, nil, "check", "-c", path, "--plugins-dir", dir)
			if code != 2 {
				t.Errorf("exit %d, want 2; stdout %q", code, stdout)
			}
			for _, w := range tt.want {
				if !regexp.MustCompile(w).MatchString(stderr) {
					t.Errorf("stderr does not match %q:\n%s", w, stderr)
				}
			}
			if strings.Contains(stdout, "ok") {
				t.Errorf("stdout claims success: %q", stdout)
			}
		})
	}
	if _, err := os.Stat(marker); err == nil {
		t.Fatalf("rgap check executed a plugin whose pin does not match (%s exists)", marker)
	}
}
