package config_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/config"
)

const refPSK = "8f1302643b0809279794c5cc47f236561d7442b85d748bd7d1a58adfbe9ff431"

// TestReference decodes the configuration example of the reference
// documentation, kept byte for byte in testdata/reference.yaml.
func TestReference(t *testing.T) {
	const file = "testdata/reference.yaml"
	cfg, err := config.Load(file)
	if err != nil {
		t.Fatal(err)
	}
	if cfg.Path != file {
		t.Errorf("Path = %q", cfg.Path)
	}
	pos := func(line, col int) config.Pos { return config.Pos{File: file, Line: line, Column: col} }

	wantListen := []struct {
		spec string
		pos  config.Pos
	}{{"239.82.71.65:8271", pos(2, 5)}, {"127.0.0.1:8282", pos(3, 5)}}
	if len(cfg.Listen) != len(wantListen) {
		t.Fatalf("got %d listen entries, want %d", len(cfg.Listen), len(wantListen))
	}
	for i, w := range wantListen {
		if got := cfg.Listen[i].Spec.String(); got != w.spec || cfg.Listen[i].Pos != w.pos {
			t.Errorf("listen[%d] = %s at %v, want %s at %v", i, got, cfg.Listen[i].Pos, w.spec, w.pos)
		}
	}

	if len(cfg.Groups) != 1 {
		t.Fatalf("got %d groups, want 1", len(cfg.Groups))
	}
	g := cfg.Groups[0]
	if g.ID != 1000 || g.PSK.Hex() != refPSK || g.Expire != 15*time.Second ||
		g.ClockSkew != 10*time.Second || g.ReadinessDelay != 15*time.Second || g.Pos != pos(6, 5) {
		t.Errorf("group = id %d psk %s expire %v skew %v delay %v at %v", g.ID, g.PSK.Hex(), g.Expire, g.ClockSkew, g.ReadinessDelay, g.Pos)
	}

	wantOutputs := []struct {
		kind         string
		pos, specPos config.Pos
		nilSpec      bool
	}{
		{"noop", pos(13, 5), pos(14, 10), true},
		{"log", pos(15, 5), pos(17, 7), false},
		{"eventlog", pos(18, 5), pos(20, 7), false},
		{"hostsfile", pos(22, 5), pos(24, 7), false},
		{"dns", pos(37, 5), pos(39, 7), false},
		{"command", pos(51, 5), pos(53, 7), false},
	}
	if len(cfg.Outputs) != len(wantOutputs) {
		t.Fatalf("got %d outputs, want %d", len(cfg.Outputs), len(wantOutputs))
	}
	for i, w := range wantOutputs {
		o := cfg.Outputs[i]
		if o.Index != i || o.Kind != w.kind || o.Pos != w.pos || o.SpecPos != w.specPos || (o.Spec == nil) != w.nilSpec || o.SHA256 != "" {
			t.Errorf("outputs[%d] = index %d kind %q at %v, spec at %v (nil %v)", i, o.Index, o.Kind, o.Pos, o.SpecPos, o.Spec == nil)
		}
		if strings.Contains(string(o.Spec), refPSK) || strings.Contains(string(o.Spec), "psk") {
			t.Errorf("outputs[%d].spec leaks the PSK:\n%s", i, o.Spec)
		}
	}
	if cfg.PluginsDir != "" || cfg.ReceiveBuffer != 0 || cfg.StateFile != "" || len(cfg.Warnings) != 0 {
		t.Errorf("plugins_dir %q receive_buffer %d warnings %q, want all unset", cfg.PluginsDir, cfg.ReceiveBuffer, cfg.Warnings)
	}
}

// base is a minimal valid configuration that good cases extend.
const base = "listen: [127.0.0.1:8271]\n"

const group1 = base + `groups:
  - id: 1
    psk: ` + refPSK + `
    expire: 15s
`

// goodConfigs are valid configurations with what they must decode to. The
// fuzz target is seeded with them too.
var goodConfigs = []struct {
	name  string
	path  string // "" means "rgap.yaml"
	src   string
	check func(t *testing.T, c *config.Config)
}{
	{"clock_skew defaults to expire", "", group1, func(t *testing.T, c *config.Config) {
		g := c.Groups[0]
		if g.ClockSkew != 15*time.Second || g.ReadinessDelay != 0 || len(c.Warnings) != 0 {
			t.Errorf("skew %v delay %v warnings %q", g.ClockSkew, g.ReadinessDelay, c.Warnings)
		}
	}},
	{"zero durations", "", group1 + "    clock_skew: 0\n    readiness_delay: 0s\n", func(t *testing.T, c *config.Config) {
		if g := c.Groups[0]; g.ClockSkew != 15*time.Second || g.ReadinessDelay != 0 {
			t.Errorf("skew %v delay %v", g.ClockSkew, g.ReadinessDelay)
		}
	}},
	{"null optional keys", "", group1 + "    clock_skew:\n    readiness_delay: ~\n", func(t *testing.T, c *config.Config) {
		if g := c.Groups[0]; g.ClockSkew != 15*time.Second || g.ReadinessDelay != 0 {
			t.Errorf("skew %v delay %v", g.ClockSkew, g.ReadinessDelay)
		}
	}},
	{"clock_skew capped at expire", "", group1 + "    clock_skew: 1m\n", func(t *testing.T, c *config.Config) {
		if g := c.Groups[0]; g.ClockSkew != 15*time.Second {
			t.Errorf("skew %v, want 15s", g.ClockSkew)
		}
		want := []string{"rgap.yaml:6:17: groups[0].clock_skew: group 1: clock_skew 1m0s is longer than expire 15s; using 15s"}
		if strings.Join(c.Warnings, "\n") != strings.Join(want, "\n") {
			t.Errorf("warnings %q, want %q", c.Warnings, want)
		}
	}},
	{"smaller clock_skew kept, compound durations", "", base + "groups:\n  - {id: 1, psk: " + refPSK + ", expire: \"1m30s\", clock_skew: 1.5s, readiness_delay: 2h}\n",
		func(t *testing.T, c *config.Config) {
			if g := c.Groups[0]; g.Expire != 90*time.Second || g.ClockSkew != 1500*time.Millisecond || g.ReadinessDelay != 2*time.Hour {
				t.Errorf("expire %v skew %v delay %v", g.Expire, g.ClockSkew, g.ReadinessDelay)
			}
		}},
	{"integer forms of ids", "", base + "groups:\n" +
		"  - {id: 0x3e8, psk: " + refPSK + ", expire: 1s}\n" +
		"  - {id: 1_001, psk: " + strings.ToUpper(refPSK) + ", expire: 1s}\n" +
		"  - {id: 18446744073709551615, psk: " + refPSK + ", expire: 1s}\n" +
		"  - {id: 0, psk: " + refPSK + ", expire: 1s}\n",
		func(t *testing.T, c *config.Config) {
			want := []uint64{1000, 1001, 1<<64 - 1, 0}
			for i, g := range c.Groups {
				if g.ID != want[i] || g.PSK.Hex() != refPSK {
					t.Errorf("groups[%d]: id %d psk %s, want id %d", i, g.ID, g.PSK.Hex(), want[i])
				}
			}
		}},
	{"anchors, aliases and merge keys", "", base + `groups:
  - &defaults
    id: 1
    psk: &key ` + refPSK + `
    expire: 20s
    clock_skew: 5s
  - <<: *defaults
    id: 2
    expire: 30s
  - id: 3
    psk: *key
    expire: 1m
    <<: [{clock_skew: 7s}, {clock_skew: 9s, readiness_delay: 1s}]
`, func(t *testing.T, c *config.Config) {
		want := []config.Group{
			{ID: 1, Expire: 20 * time.Second, ClockSkew: 5 * time.Second},
			{ID: 2, Expire: 30 * time.Second, ClockSkew: 5 * time.Second},
			{ID: 3, Expire: time.Minute, ClockSkew: 7 * time.Second, ReadinessDelay: time.Second},
		}
		if len(c.Groups) != len(want) {
			t.Fatalf("%d groups", len(c.Groups))
		}
		for i, w := range want {
			g := c.Groups[i]
			if g.ID != w.ID || g.Expire != w.Expire || g.ClockSkew != w.ClockSkew || g.ReadinessDelay != w.ReadinessDelay || g.PSK.Hex() != refPSK {
				t.Errorf("groups[%d] = %d %v %v %v, want %d %v %v %v", i, g.ID, g.Expire, g.ClockSkew, g.ReadinessDelay, w.ID, w.Expire, w.ClockSkew, w.ReadinessDelay)
			}
		}
	}},
	{"new keys", "/etc/rgap/rgap.yaml", base + `plugins_dir: plugins
receive_buffer: 4194304
outputs:
  - kind: my-plugin_2
    sha256: 9F86D081884C7D659A2FEAA0C55AD015A3BF4F1B2B0B822CD15D6C15B0F00A08
    spec: {x: 1}
  - kind: "123"
  - kind: noop
    sha256: ~
`, func(t *testing.T, c *config.Config) {
		if c.PluginsDir != "/etc/rgap/plugins" || c.ReceiveBuffer != 4194304 {
			t.Errorf("plugins_dir %q receive_buffer %d", c.PluginsDir, c.ReceiveBuffer)
		}
		if o := c.Outputs[0]; o.Kind != "my-plugin_2" || o.SHA256 != "9f86d081884c7d659a2feaa0c55ad015a3bf4f1b2b0b822cd15d6c15b0f00a08" {
			t.Errorf("outputs[0] kind %q sha256 %q", o.Kind, o.SHA256)
		}
		if o := c.Outputs[1]; o.Kind != "123" || o.Spec != nil || o.SpecPos != (config.Pos{}) {
			t.Errorf("outputs[1] kind %q spec %q at %v", o.Kind, o.Spec, o.SpecPos)
		}
		if c.Outputs[2].SHA256 != "" {
			t.Errorf("null sha256 gave %q", c.Outputs[2].SHA256)
		}
	}},
	{"state_file next to the configuration", "/etc/rgap/rgap.yaml", base + "state_file: state/rgap.state\n", pathIs("state_file", stateFile, "/etc/rgap/state/rgap.state")},
	{"absolute state_file kept", "conf/rgap.yaml", base + "state_file: /var/lib/rgap/state\n", pathIs("state_file", stateFile, "/var/lib/rgap/state")},
	{"absolute plugins_dir kept", "conf/rgap.yaml", base + "plugins_dir: /usr/libexec/rgap\n", pathIs("plugins_dir", pluginsDir, "/usr/libexec/rgap")},
	{"relative plugins_dir next to a relative file", "conf/rgap.yaml", base + "plugins_dir: ../plugins\n", pathIs("plugins_dir", pluginsDir, "plugins")},
	{"no groups warns", "", base + "groups:\noutputs:\n", func(t *testing.T, c *config.Config) {
		if len(c.Groups) != 0 || len(c.Outputs) != 0 || len(c.Warnings) != 1 || !strings.Contains(c.Warnings[0], "no groups") {
			t.Errorf("groups %v outputs %v warnings %q", c.Groups, c.Outputs, c.Warnings)
		}
	}},
	{"listen forms", "", "listen:\n  - \"239.82.71.65:8271@eth0\"\n  - 239.82.71.65:8271@192.168.0.0/16\n  - '[::1]:8271'\n  - :8271\n", func(t *testing.T, c *config.Config) {
		want := []string{"239.82.71.65:8271@eth0", "239.82.71.65:8271@192.168.0.0/16", "[::1]:8271", ":8271"}
		for i, w := range want {
			if got := c.Listen[i].Spec.String(); got != w {
				t.Errorf("listen[%d] = %s, want %s", i, got, w)
			}
		}
		if c.Listen[2].Pos.Line != 4 || c.Listen[2].Pos.Column != 5 {
			t.Errorf("listen[2] at %v", c.Listen[2].Pos)
		}
	}},
	{"document markers, BOM and CRLF", "", "\ufeff%YAML 1.1\r\n---\r\nlisten:\r\n  - 127.0.0.1:8271\r\noutputs:\r\n  - kind: log\r\n    spec:\r\n      interval: 5s\r\n...\r\n",
		func(t *testing.T, c *config.Config) {
			if c.Listen[0].Pos.Line != 4 || c.Outputs[0].SpecPos.Line != 8 || c.Outputs[0].SpecPos.Column != 7 {
				t.Errorf("listen at %v, spec at %v", c.Listen[0].Pos, c.Outputs[0].SpecPos)
			}
			if s := string(c.Outputs[0].Spec); s != strings.Repeat("\n", 7)+"      interval: 5s\r\n" {
				t.Errorf("spec text %q", s)
			}
		}},
}

// pathIs is a goodConfigs check: the path key key, read by field,
// resolved to want.
func pathIs(key string, field func(*config.Config) string, want string) func(*testing.T, *config.Config) {
	return func(t *testing.T, c *config.Config) {
		if got := field(c); got != want {
			t.Errorf("%s %q", key, got)
		}
	}
}

func stateFile(c *config.Config) string  { return c.StateFile }
func pluginsDir(c *config.Config) string { return c.PluginsDir }

func TestGoodConfigs(t *testing.T) {
	for _, tt := range goodConfigs {
		t.Run(tt.name, func(t *testing.T) {
			path := tt.path
			if path == "" {
				path = "rgap.yaml"
			}
			cfg, err := config.Parse(path, []byte(tt.src))
			if err != nil {
				t.Fatalf("Parse: %v\n%s", err, tt.src)
			}
			if len(cfg.Listen) == 0 {
				t.Errorf("no listen entries")
			}
			tt.check(t, cfg)
		})
	}
}

func TestLoadMissingFile(t *testing.T) {
	path := filepath.Join(t.TempDir(), "nope.yaml")
	_, err := config.Load(path)
	if !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("errors.Is(err, fs.ErrNotExist) = false for %v", err)
	}
	if !strings.Contains(err.Error(), path) {
		t.Errorf("error %q does not name the path", err)
	}
}

func TestLoadTooLarge(t *testing.T) {
	path := filepath.Join(t.TempDir(), "big.yaml")
	data := []byte(base + "# " + strings.Repeat("x", config.MaxFileSize) + "\n")
	if err := os.WriteFile(path, data, 0o600); err != nil {
		t.Fatal(err)
	}
	_, err := config.Load(path)
	if !errors.Is(err, config.ErrTooLarge) || !strings.Contains(err.Error(), path) {
		t.Errorf("got %v, want ErrTooLarge naming %s", err, path)
	}
}

// TestAllErrorsSorted checks that problems from all sections come back in
// one error, in file order, whatever order the sections are written in.
func TestAllErrorsSorted(t *testing.T) {
	_, err := config.Load("testdata/bad/many_errors.yaml")
	var joined interface{ Unwrap() []error }
	if !errors.As(err, &joined) {
		t.Fatalf("not a joined error: %v", err)
	}
	list := joined.Unwrap()
	if len(list) != 4 {
		t.Fatalf("got %d errors, want 4:\n%v", len(list), err)
	}
	last := 0
	for _, e := range list {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("%v is not a *config.Error", e)
		}
		if ce.Pos.Line < last {
			t.Errorf("errors not sorted by line:\n%v", err)
		}
		last = ce.Pos.Line
	}
}

func TestPosString(t *testing.T) {
	for _, tt := range []struct {
		p    config.Pos
		want string
	}{
		{config.Pos{File: "a.yaml", Line: 3, Column: 7}, "a.yaml:3:7"},
		{config.Pos{File: "a.yaml", Line: 3}, "a.yaml:3"},
		{config.Pos{File: "a.yaml"}, "a.yaml"},
	} {
		if got := tt.p.String(); got != tt.want {
			t.Errorf("%#v.String() = %q, want %q", tt.p, got, tt.want)
		}
	}
}

// TestMergeChainIsLinear decodes groups that each merge the previous one
// twice: expanding merges naively would take 2^40 steps and never end.
func TestMergeChainIsLinear(t *testing.T) {
	var b strings.Builder
	b.WriteString(base + "groups:\n  - &m0 {id: 0, psk: " + refPSK + ", expire: 1s}\n")
	const n = 40
	for i := 1; i < n; i++ {
		fmt.Fprintf(&b, "  - &m%d {<<: [*m%d, *m%d], id: %d}\n", i, i-1, i-1, i)
	}
	cfg, err := config.Parse("rgap.yaml", []byte(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if len(cfg.Groups) != n {
		t.Fatalf("%d groups, want %d", len(cfg.Groups), n)
	}
	for i, g := range cfg.Groups {
		if g.ID != uint64(i) || g.Expire != time.Second || g.PSK.Hex() != refPSK {
			t.Errorf("groups[%d] = id %d expire %v", i, g.ID, g.Expire)
		}
	}
}

// TestSpecBytesBounded checks that many outputs deep into a long file are
// refused instead of needing memory quadratic in the file size.
func TestSpecBytesBounded(t *testing.T) {
	defer config.SetMaxSpecBytes(1 << 20)()
	var b strings.Builder
	b.WriteString(base + strings.Repeat("\n", 1<<16) + "outputs:\n")
	for range 20 {
		b.WriteString("  - kind: noop\n    spec: {a: 1}\n")
	}
	_, err := config.Parse("rgap.yaml", []byte(b.String()))
	if !errors.Is(err, config.ErrValue) || strings.Count(err.Error(), "exceed") != 1 {
		t.Fatalf("got %v, want one ErrValue about the spec size limit", err)
	}
}

// BenchmarkParseReference measures decoding the reference example, spec
// extraction included.
func BenchmarkParseReference(b *testing.B) {
	data, err := os.ReadFile("testdata/reference.yaml")
	if err != nil {
		b.Fatal(err)
	}
	b.ReportAllocs()
	for b.Loop() {
		if _, err := config.Parse("reference.yaml", data); err != nil {
			b.Fatal(err)
		}
	}
}
