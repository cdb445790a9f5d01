package harness

import (
	"bytes"
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"slices"
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
			Roles:   map[string]Role{"child": func(context.Context, Common, io.Writer) error { role = x; return nil }},
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
		if got := bench(tt.pass, tt.err).Run(tt.args, &out, &errOut); got != tt.want {
			t.Errorf("%s: Run(%q) = %d, want %d; stderr: %s", tt.name, tt.args, got, tt.want, errOut.String())
		}
		if tt.err != nil && tt.want == 1 && !strings.Contains(errOut.String(), tt.err.Error()) {
			t.Errorf("%s: stderr %q does not name the error", tt.name, errOut.String())
		}
		if want := "command: go run . t " + strings.Join(tt.args, " ") + "\n"; tt.name == "fail with -strict" && out.String() != want {
			t.Errorf("%s: report %q, want the command line %q", tt.name, out.String(), want)
		}
	}
	if role != "given" {
		t.Errorf("the child role saw -x %q, want %q", role, "given")
	}
}

// TestRounds: kinds alternate their order round by round, every run is
// returned in the order it ran, and a failing run names its round and kind.
func TestRounds(t *testing.T) {
	var ran []string
	got, err := Rounds(context.Background(), 3, []string{"bare", "listener", "listener v2"}, io.Discard, func(round int, kind string) (string, error) {
		ran = append(ran, fmt.Sprint(round, kind))
		return fmt.Sprint(round, kind), nil
	})
	want := []string{"1bare", "1listener", "1listener v2", "2listener v2", "2listener", "2bare", "3bare", "3listener", "3listener v2"}
	if err != nil || !slices.Equal(got, want) || !slices.Equal(ran, want) {
		t.Fatalf("Rounds = %q, %v (ran %q); want %q", got, err, ran, want)
	}
	boom := errors.New("boom")
	_, err = Rounds(context.Background(), 2, []string{"a", "b"}, io.Discard, func(round int, kind string) (int, error) {
		if round == 2 && kind == "a" {
			return 0, boom
		}
		return 0, nil
	})
	if !errors.Is(err, boom) || err.Error() != "round 2, a: boom" {
		t.Errorf("Rounds = %v, want round 2, a: boom", err)
	}
}

// TestCPUSpan checks that a span reports the processes' own CPU time over
// it, and leaves their time out of the other work on their CPU.
func TestCPUSpan(t *testing.T) {
	own := 2 * time.Second
	s, err := StartCPUSpan(0, func() (time.Duration, error) { return own, nil })
	if err != nil {
		t.Skipf("no CPU 0 in /proc/stat here: %v", err)
	}
	own = 5 * time.Second // far more than the CPU can have been busy meanwhile
	got, other, err := s.End()
	if err != nil || got != 3*time.Second || other != 0 {
		t.Errorf("End = %v, %v, %v; want 3s own and no other work (own time is not other work)", got, other, err)
	}
	boom := errors.New("boom")
	if _, err := StartCPUSpan(0, func() (time.Duration, error) { return 0, boom }); !errors.Is(err, boom) {
		t.Errorf("StartCPUSpan with a failing reader = %v, want boom", err)
	}
}
