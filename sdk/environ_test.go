package sdk

import (
	"slices"
	"testing"
)

func TestProgramEnv(t *testing.T) {
	tests := []struct {
		name    string
		environ []string
		want    []string
	}{
		{
			name: "plugin protocol variables removed",
			environ: []string{
				"PATH=/usr/bin:/bin",
				"RGAP_PLUGIN_COOKIE=9c1d",
				"PLUGIN_PROTOCOL_VERSIONS=1",
				"PLUGIN_MIN_PORT=10000",
				"PLUGIN_MAX_PORT=25000",
				"PLUGIN_CLIENT_CERT=-----BEGIN CERTIFICATE-----",
				"PLUGIN_UNIX_SOCKET_DIR=/tmp/plugin-dir1",
				"PLUGIN_UNIX_SOCKET_GROUP=rgap",
				"PLUGIN_MULTIPLEX_GRPC=false",
				"RGAP_PLUGIN_PARENT_PID=42",
				"RGAP_PLUGIN_LOG_LEVEL=info",
				"HOME=/var/lib/rgap",
				"LC_ALL=C.UTF-8",
			},
			want: []string{"PATH=/usr/bin:/bin", "HOME=/var/lib/rgap", "LC_ALL=C.UTF-8"},
		},
		{
			name:    "the host's default GOMAXPROCS removed",
			environ: []string{"PATH=/bin", "GOMAXPROCS=1", "RGAP_PLUGIN_HOST_GOMAXPROCS=1"},
			want:    []string{"PATH=/bin"},
		},
		{
			name:    "the operator's GOMAXPROCS kept",
			environ: []string{"GOMAXPROCS=4", "PATH=/bin"},
			want:    []string{"GOMAXPROCS=4", "PATH=/bin"},
		},
		{
			name:    "look-alike names kept",
			environ: []string{"MY_PLUGIN_MIN_PORT=1", "RGAP_PLUGIN_COOKIES=x", "=odd", "NOVALUE"},
			want:    []string{"MY_PLUGIN_MIN_PORT=1", "RGAP_PLUGIN_COOKIES=x", "=odd", "NOVALUE"},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := programEnv(tt.environ); !slices.Equal(got, tt.want) {
				t.Errorf("programEnv = %q, want %q", got, tt.want)
			}
		})
	}
}
