package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"io"
	"strings"
	"testing"
	"time"
)

// TestRunExitStatus checks what a script running a benchmark relies on:
// the exit status for each outcome, and that a child role gets its flags.
func TestRunExitStatus(t *testing.T) {
	var role string
	bench := func(pass bool, err error) Bench {
		var x string
		return Bench{
			Name: "t", Summary: "test", Rounds: 2, Timeout: time.Minute,
			Flags: func(fs *flag.FlagSet) { fs.StringVar(&x, "x", "", "a flag of the benchmark") },
			Check: func(c Common) error {
				if x == "bad" {
					return errors.New("bad x")
				}
				return nil
			},
			Measure: func(context.Context, Common, io.Writer) (bool, error) { return pass, err },
			Roles: map[string]func(context.Context, Common, io.Reader, io.Writer, io.Writer) error{
				"child": func(context.Context, Common, io.Reader, io.Writer, io.Writer) error { role = x; return nil },
			},
		}
	}
	tests := []struct {
		name string
		args []string
		pass bool
		err  error
		want int
	}{
		{"pass", nil, true, nil, 0},
		{"fail without -strict", nil, false, nil, 0},
		{"fail with -strict", []string{"-strict"}, false, nil, 1},
		{"error", nil, true, errors.New("boom"), 1},
		{"child's own status", nil, false, ExitError{Code: 3}, 3},
		{"help", []string{"-h"}, true, nil, 0},
		{"unknown flag", []string{"-nope"}, true, nil, 2},
		{"extra argument", []string{"extra"}, true, nil, 2},
		{"zero rounds", []string{"-rounds", "0"}, true, nil, 2},
		{"check fails", []string{"-x", "bad"}, true, nil, 2},
		{"unknown role", []string{"-mode", "nope"}, true, nil, 2},
		{"role", []string{"-mode", "child", "-x", "given"}, false, errors.New("not measured"), 0},
	}
	for _, tt := range tests {
		var out, errOut bytes.Buffer
		if got := bench(tt.pass, tt.err).Run(tt.args, nil, &out, &errOut); got != tt.want {
			t.Errorf("%s: Run(%q) = %d, want %d; stderr: %s", tt.name, tt.args, got, tt.want, errOut.String())
		}
		if tt.err != nil && tt.want == 1 && !strings.Contains(errOut.String(), tt.err.Error()) {
			t.Errorf("%s: stderr %q does not name the error", tt.name, errOut.String())
		}
	}
	if role != "given" {
		t.Errorf("the child role saw -x %q, want %q", role, "given")
	}
}
