package config_test

import (
	"strings"
	"testing"

	"github.com/rgap-project/rgap/internal/config"
)

func TestCheckHTTPListen(t *testing.T) {
	tests := []struct {
		in, err string // err: "" for valid, else a part of the message
	}{
		{"127.0.0.1:9271", ""},
		{":9271", ""},
		{"[::1]:9271", ""},
		{"[fe80::1%eth0]:9271", ""},
		{"localhost:9271", ""},
		{"metrics.example.com:65535", ""},
		{"127.0.0.1", "want host:port"},
		{"", "want host:port"},
		{"::1:9271", "want host:port"},
		{"127.0.0.1:0", "port must be a number from 1 to 65535"},
		{"127.0.0.1:65536", "port must be"},
		{"127.0.0.1:http", "port must be"},
		{"[127.0.0.1]:9271", "IPv6 host must be written in brackets"},
		{"bad_host:9271", "must be empty, an IP address or a host name"},
		{"-x.example:9271", "must be empty, an IP address or a host name"},
	}
	for _, tc := range tests {
		err := config.CheckHTTPListen(tc.in)
		switch {
		case tc.err == "" && err != nil:
			t.Errorf("CheckHTTPListen(%q) = %v, want valid", tc.in, err)
		case tc.err != "" && (err == nil || !strings.Contains(err.Error(), tc.err)):
			t.Errorf("CheckHTTPListen(%q) = %v, want an error containing %q", tc.in, err, tc.err)
		}
	}
}

func TestHTTPListenKey(t *testing.T) {
	for _, tc := range []struct{ yaml, want string }{
		{"listen: [\":8271\"]\n", ""},
		{"listen: [\":8271\"]\nhttp_listen: 127.0.0.1:9271\n", "127.0.0.1:9271"},
		{"listen: [\":8271\"]\nhttp_listen: \"[::1]:9271\"\n", "[::1]:9271"},
		{"listen: [\":8271\"]\nhttp_listen:\n", ""},
	} {
		cfg, err := config.Parse("rgap.yaml", []byte(tc.yaml))
		if err != nil {
			t.Fatalf("%q: %v", tc.yaml, err)
		}
		if cfg.HTTPListen != tc.want {
			t.Errorf("%q: HTTPListen = %q, want %q", tc.yaml, cfg.HTTPListen, tc.want)
		}
	}
}
