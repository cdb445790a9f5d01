package config_test

import (
	"errors"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"gopkg.in/yaml.v3"

	"github.com/rgap-project/rgap/internal/config"
)

// FuzzParse feeds arbitrary bytes to Parse: it must never panic, must
// return exactly one of a config and an error, every error must be a
// positioned *Error, and a config must satisfy the documented invariants.
func FuzzParse(f *testing.F) {
	for _, pattern := range []string{"testdata/*.yaml", "testdata/bad/*.yaml"} {
		files, _ := filepath.Glob(pattern)
		for _, file := range files {
			data, err := os.ReadFile(file)
			if err != nil {
				f.Fatal(err)
			}
			f.Add(data)
		}
	}
	for _, c := range goodConfigs {
		f.Add([]byte(c.src))
	}
	for _, c := range specCases {
		f.Add([]byte(c.src))
	}
	const path = "fuzz.yaml"
	f.Fuzz(func(t *testing.T, data []byte) {
		cfg, err := config.Parse(path, data)
		if (cfg == nil) == (err == nil) {
			t.Fatalf("Parse returned config %v and error %v", cfg != nil, err)
		}
		if err != nil {
			checkErrors(t, path, err)
			checkNoEcho(t, data, err)
			return
		}
		checkConfig(t, cfg)
	})
}

func checkErrors(t *testing.T, path string, err error) {
	list := []error{err}
	if j, ok := err.(interface{ Unwrap() []error }); ok {
		list = j.Unwrap()
	}
	for _, e := range list {
		var ce *config.Error
		if !errors.As(e, &ce) {
			t.Fatalf("error is not a *config.Error: %v", e)
		}
		if ce.Pos.File != path || !strings.HasPrefix(ce.Error(), path) {
			t.Fatalf("error does not name the file: %v", ce)
		}
	}
}

// hexRun is a run of hex digits as long as a PSK's first quarter or more.
var hexRun = regexp.MustCompile(`[0-9a-fA-F]{16,}`)

// checkNoEcho fails when an error repeats nine characters in a row of a
// PSK-like run in the input. Windows of digits only are skipped: the
// messages' own numbers (limits, line numbers) may coincide with them.
func checkNoEcho(t *testing.T, data []byte, err error) {
	msg := err.Error()
	for _, run := range hexRun.FindAllString(string(data), 20) {
		for i := 0; i+9 <= len(run); i++ {
			w := run[i : i+9]
			if strings.ContainsAny(w, "abcdefABCDEF") && strings.Contains(msg, w) {
				t.Fatalf("error repeats %q of the input:\n%v", w, msg)
			}
		}
	}
}

func checkConfig(t *testing.T, cfg *config.Config) {
	if len(cfg.Listen) == 0 {
		t.Fatal("config without listen entries")
	}
	ids := make(map[uint64]bool)
	for _, g := range cfg.Groups {
		if g.Expire <= 0 || g.ClockSkew <= 0 || g.ClockSkew > g.Expire || g.ReadinessDelay < 0 {
			t.Fatalf("group %d: expire %v clock_skew %v readiness_delay %v", g.ID, g.Expire, g.ClockSkew, g.ReadinessDelay)
		}
		if ids[g.ID] {
			t.Fatalf("duplicate group id %d accepted", g.ID)
		}
		ids[g.ID] = true
	}
	for i, o := range cfg.Outputs {
		if o.Index != i || o.Kind == "" || strings.ContainsAny(o.Kind, "/.\x00") {
			t.Fatalf("outputs[%d]: index %d kind %q", i, o.Index, o.Kind)
		}
		if o.Spec == nil {
			continue
		}
		var doc yaml.Node
		if err := yaml.Unmarshal(o.Spec, &doc); err != nil {
			t.Fatalf("outputs[%d].spec does not parse: %v\n%q", i, err, o.Spec)
		}
		if len(doc.Content) != 1 || doc.Content[0].Line != o.SpecPos.Line {
			t.Fatalf("outputs[%d].spec does not start at line %d:\n%q", i, o.SpecPos.Line, o.Spec)
		}
	}
}
