package memory

import (
	"errors"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/rgap-project/rgap/bench/internal/procfs"
)

func readTestdata(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestParseRollup(t *testing.T) {
	m, err := parseRollup(readTestdata(t, "smaps_rollup.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := memory{RSS: 14972 << 10, Anon: 2092 << 10, PSS: 13661 << 10, PSSAnon: 2092 << 10, PSSFile: 11569 << 10}
	if m != want {
		t.Errorf("parseRollup = %+v, want %+v", m, want)
	}
	if m.File() != (14972-2092)<<10 {
		t.Errorf("File() = %d, want RSS - Anonymous", m.File())
	}
}

func TestParseRollupErrors(t *testing.T) {
	full := string(readTestdata(t, "smaps_rollup.txt"))
	drop := func(key string) string {
		var out []string
		for _, l := range strings.Split(full, "\n") {
			if !strings.HasPrefix(l, key+":") {
				out = append(out, l)
			}
		}
		return strings.Join(out, "\n")
	}
	tests := []struct {
		name, in, want string
	}{
		{"empty (process gone mid-read)", "", "no Rss line"},
		{"no Pss", drop("Pss"), "no Pss line"},
		{"no Anonymous", drop("Anonymous"), "no Anonymous line"},
		{"bad number", strings.Replace(full, "Rss:               14972 kB", "Rss: 14x72 kB", 1), "not a size"},
		{"absurd number", strings.Replace(full, "Rss:               14972 kB", "Rss: 99999999999999999 kB", 1), "not a size"},
	}
	for _, tc := range tests {
		_, err := parseRollup([]byte(tc.in))
		if !errors.Is(err, procfs.ErrFormat) || !strings.Contains(err.Error(), tc.want) {
			t.Errorf("%s: err = %v, want procfs.ErrFormat mentioning %q", tc.name, err, tc.want)
		}
	}
	// Pss_Anon and Pss_File are missing before Linux 5.9: still readable.
	m, err := parseRollup([]byte(drop("Pss_Anon")))
	if err != nil || m.PSSAnon != 0 || m.PSS != 13661<<10 {
		t.Errorf("without Pss_Anon: %+v, %v", m, err)
	}
}

func TestPluginKind(t *testing.T) {
	tests := []struct {
		argv []string
		want string
		ok   bool
	}{
		{[]string{"/proc/self/exe", "plugin", "dns"}, "dns", true},
		{[]string{"/usr/bin/rgap", "plugin", "hostsfile"}, "hostsfile", true},
		{[]string{"/usr/lib/rgap/plugins/rgap-plugin-consul", "--flag"}, "consul", true},
		{[]string{"/usr/bin/rgap", "listener", "-c", "x.yaml"}, "", false},
		{[]string{"/usr/bin/rgap", "plugin"}, "", false},
		{[]string{"/usr/bin/rgap", "plugin", ""}, "", false},
		{[]string{"rgap-plugin-"}, "", false},
		{nil, "", false},
	}
	for _, tc := range tests {
		got, ok := pluginKind(tc.argv)
		if got != tc.want || ok != tc.ok {
			t.Errorf("pluginKind(%q) = %q, %v; want %q, %v", tc.argv, got, ok, tc.want, tc.ok)
		}
	}
}

func FuzzParseRollup(f *testing.F) {
	f.Add(readTestdata(f, "smaps_rollup.txt"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := parseRollup(b)
		if err == nil && m.File() > m.RSS {
			t.Errorf("file-backed %d > rss %d", m.File(), m.RSS)
		}
	})
}
