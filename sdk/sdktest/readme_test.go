package sdktest

import (
	"context"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/rgap-project/rgap/sdk"
)

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
