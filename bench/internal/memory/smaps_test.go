package memory

import (
	"os"
	"testing"
)

func TestReadMemory(t *testing.T) {
	m, err := readMemory(2, "self", os.Getpid())
	if err != nil {
		t.Fatal(err)
	}
	if m.Round != 2 || m.Kind != "self" || m.PID != os.Getpid() || m.RSS == 0 || m.PSS == 0 || m.Anon == 0 || m.Anon > m.RSS || m.PSS > m.RSS {
		t.Errorf("readMemory(own process) = %+v, want its round, kind and pid, and 0 < anon <= rss, 0 < pss <= rss", m)
	}
	if _, err := readMemory(1, "gone", -1); err == nil {
		t.Error("readMemory(-1): no error")
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
