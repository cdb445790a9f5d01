package buildinfo

import (
	"runtime/debug"
	"testing"
)

func TestFromBuildInfo(t *testing.T) {
	vcs := []debug.BuildSetting{
		{Key: "vcs.revision", Value: "eb43057bfd6b0123456789abcdef0123456789ab"},
		{Key: "vcs.time", Value: "2026-12-03T07:45:42Z"},
		{Key: "vcs.modified", Value: "false"},
	}
	dirty := append(append([]debug.BuildSetting{}, vcs[:2]...), debug.BuildSetting{Key: "vcs.modified", Value: "true"})
	tests := []struct {
		name    string
		bi      *debug.BuildInfo
		stamped string
		want    string
	}{
		{"no build info", nil, "", "devel"},
		{"no build info, stamped", nil, "1.2.0", "1.2.0"},
		{"plain go build without vcs", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}}, "", "devel go1.26.8"},
		{"go build in a checkout: pseudo-version",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261203074542-eb43057bfd6b"}, Settings: vcs}, "",
			"devel (eb43057bfd6b, 2026-12-03T07:45:42Z) go1.26.8"},
		{"modified checkout",
			&debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v0.0.0-20261203074542-eb43057bfd6b+dirty"}, Settings: dirty}, "",
			"devel (eb43057bfd6b+dirty, 2026-12-03T07:45:42Z) go1.26.8"},
		{"go install at a tag", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "v1.2.0"}}, "", "v1.2.0 go1.26.8"},
		{"stamped wins", &debug.BuildInfo{GoVersion: "go1.26.8", Main: debug.Module{Version: "(devel)"}, Settings: vcs}, "1.3.0~rc1",
			"1.3.0~rc1 (eb43057bfd6b, 2026-12-03T07:45:42Z) go1.26.8"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			if got := fromBuildInfo(tt.bi, tt.stamped).String(); got != tt.want {
				t.Errorf("got %q, want %q", got, tt.want)
			}
		})
	}
}
