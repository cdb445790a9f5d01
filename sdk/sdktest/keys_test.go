package sdktest

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

func TestSpecKeys(t *testing.T) {
	type common struct {
		Interval time.Duration `yaml:"interval"`
	}
	type target struct {
		Group *uint64      `yaml:"group"`
		Addrs []netip.Addr `yaml:"addrs"`
	}
	type spec struct {
		common  `yaml:",inline"`
		Bind    netip.AddrPort     `yaml:"bind"`
		Targets []target           `yaml:"targets"`
		Names   map[string]*target `yaml:"names"`
		Nested  struct {
			Deep bool `yaml:"deep"`
		} `yaml:"nested"`
		Ignored string `yaml:"-"`
		_       int    `yaml:"blank"` // not exported: no key
	}
	want := []string{
		"bind", "interval", "names", "names.NAME.addrs", "names.NAME.group",
		"nested", "nested.deep", "targets", "targets[].addrs", "targets[].group",
	}
	if got := SpecKeys(spec{}); !slices.Equal(got, want) {
		t.Errorf("SpecKeys = %q, want %q", got, want)
	}
	if got := SpecKeys(&spec{}); !slices.Equal(got, want) {
		t.Errorf("SpecKeys of a pointer = %q, want %q", got, want)
	}
}

// recorder is a testing.TB that collects the failures a check reports
// instead of failing the test.
type recorder struct {
	testing.TB
	failures []string
}

func (r *recorder) Helper() {}

func (r *recorder) Errorf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
}

// errFailNow is what a recorder panics with when the check stops the test.
var errFailNow = errors.New("sdktest: FailNow in a recorder")

func (r *recorder) FailNow() { panic(errFailNow) }

func (r *recorder) Fatalf(format string, args ...any) {
	r.failures = append(r.failures, fmt.Sprintf(format, args...))
	panic("sdktest: Fatalf in a recorder")
}

func TestCheckREADMESections(t *testing.T) {
	const closing = "## Configuration\n\n| key |\n\n## Example\n\n```yaml\n```\n\n## On failure\n\nIt retries.\n\n## Logs\n\nNone.\n"
	tests := []struct {
		name string
		text string
		want []string // a part of each failure, in order; none: it passes
	}{
		{"complete", "# `demo` output\n\nDoes things.\n\n" + closing, nil},
		{"behaviour sections and subsections", "# `demo` output\n\n## What it writes\n\n### Details\n\n## When\n\n" +
			strings.Replace(closing, "## Logs\n", "## Logs\n\n### Debug\n", 1), nil},
		{"headings in code fences do not count", "# `demo` output\n\n```sh\n# a comment\n## Logs\n```\n\n" + closing, nil},
		{"old title", "# demo\n\n" + closing, []string{"the first heading must be \"# `demo` output\""}},
		{"title of another kind", "# `other` output\n\n" + closing, []string{"the first heading must be"}},
		{"second title", "# `demo` output\n\n# More\n\n" + closing, []string{`"# More": only the title`}},
		{"no configuration", "# `demo` output\n\n## Example\n\n## On failure\n\n## Logs\n", []string{`no "## Configuration" section`}},
		{"example before configuration", "# `demo` output\n\n## Example\n\n" + strings.Replace(closing, "## Example\n", "", 1),
			[]string{`the sections from "## Configuration" on are ["## Configuration" "## On failure" "## Logs"]`}},
		{"logs missing", "# `demo` output\n\n" + strings.Replace(closing, "## Logs\n", "", 1), []string{"sections from"}},
		{"on failure and logs swapped", "# `demo` output\n\n## Configuration\n\n## Example\n\n## Logs\n\n## On failure\n", []string{"sections from"}},
		{"a section after logs", "# `demo` output\n\n" + closing + "\n## Performance\n", []string{`"## Performance"`}},
		{"empty file", "", []string{"the first heading must be", `no "## Configuration"`}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			path := filepath.Join(t.TempDir(), "README.md")
			if err := os.WriteFile(path, []byte(tt.text), 0o600); err != nil {
				t.Fatal(err)
			}
			r := &recorder{TB: t}
			CheckREADMESections(r, path, "demo")
			if len(r.failures) != len(tt.want) {
				t.Fatalf("failures = %q, want %d like %q", r.failures, len(tt.want), tt.want)
			}
			for i, w := range tt.want {
				if !strings.Contains(r.failures[i], w) || !strings.HasPrefix(r.failures[i], path+": ") {
					t.Errorf("failure %d = %q, want it to name %s and hold %q", i, r.failures[i], path, w)
				}
			}
		})
	}
}

func TestCheckConfigTable(t *testing.T) {
	type spec struct {
		Interval time.Duration `yaml:"interval"`
		Targets  []struct {
			Group uint64 `yaml:"group"`
		} `yaml:"targets"`
	}
	path := filepath.Join(t.TempDir(), "README.md")
	text := "# `demo` output\n\n## Configuration\n\n| key | type |\n|---|---|\n| `interval` | duration |\n| `targets[].group` | uint64 |\n| `every` | duration |\n\n## Example\n\n| `outside` | the table |\n"
	if err := os.WriteFile(path, []byte(text), 0o600); err != nil {
		t.Fatal(err)
	}
	r := &recorder{TB: t}
	CheckConfigTable(r, path, spec{})
	want := []string{
		path + `: key "targets" is accepted by the spec but missing from the configuration table`,
		path + `: the configuration table lists "every", which the spec does not accept`,
	}
	if !slices.Equal(r.failures, want) {
		t.Errorf("failures = %q, want %q", r.failures, want)
	}
}

func TestSpecsFromMarkdown(t *testing.T) {
	got := SpecsFromMarkdown(t, "testdata/readme.md", "demo")
	want := []string{"interval: 5s\nlist: [1, 2]\n", "", ""}
	if !slices.Equal(got, want) {
		t.Fatalf("SpecsFromMarkdown = %q, want %q", got, want)
	}
}

// demoPlugin accepts the spec keys of the examples in testdata/readme.md,
// interval and list, or only interval when strict.
func demoPlugin(strict bool) sdk.Plugin {
	return sdk.Plugin{Name: "demo", New: func(cfg *sdk.Config) (sdk.Output, error) {
		type loose struct {
			Interval time.Duration `yaml:"interval"`
			List     []int         `yaml:"list"`
		}
		var err error
		if strict {
			err = cfg.Decode(&struct {
				Interval time.Duration `yaml:"interval"`
			}{})
		} else {
			err = cfg.Decode(&loose{})
		}
		if err != nil {
			return nil, err
		}
		return idle{}, nil
	}}
}

// idle is an output that does nothing until it is stopped.
type idle struct{}

func (idle) Run(ctx context.Context, _ *sdk.Env) error {
	<-ctx.Done()
	return nil
}

func TestCheckExamples(t *testing.T) {
	got := CheckExamples(t, demoPlugin(false), "testdata/readme.md")
	if want := []string{"interval: 5s\nlist: [1, 2]\n", "", ""}; !slices.Equal(got, want) {
		t.Errorf("CheckExamples = %q, want %q", got, want)
	}

	r := &recorder{TB: t}
	func() {
		defer func() {
			if p := recover(); p != errFailNow {
				panic(p)
			}
		}()
		CheckExamples(r, demoPlugin(true), "testdata/readme.md")
		t.Error("CheckExamples went on after an invalid example")
	}()
	if len(r.failures) != 1 || !strings.HasPrefix(r.failures[0], "testdata/readme.md: demo example 1 is invalid: ") ||
		!strings.Contains(r.failures[0], "list") {
		t.Errorf("failures = %q, want one naming example 1 and its key list", r.failures)
	}
}
