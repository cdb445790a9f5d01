package main

import (
	"os"
	"runtime"
	"runtime/debug"
	"testing"
)

func TestListenerProcs(t *testing.T) {
	orig := runtime.GOMAXPROCS(0)
	t.Cleanup(func() { runtime.GOMAXPROCS(orig) })
	tests := []struct {
		name    string
		env     string // GOMAXPROCS in the environment; "-" for unset
		start   int
		sockets int
		want    int
	}{
		{"one socket takes one P", "-", 4, 1, 1},
		{"one P per socket", "-", 4, 3, 3},
		{"never above the default", "-", 2, 5, 2},
		{"no sockets: unchanged", "-", 4, 0, 4},
		{"the operator's GOMAXPROCS wins", "4", 4, 1, 4},
		{"an empty one is unset, as for Go", "", 3, 1, 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, "GOMAXPROCS", tt.env)
			runtime.GOMAXPROCS(tt.start)
			if got := listenerProcs(tt.sockets); got != tt.want {
				t.Errorf("listenerProcs(%d) from %d Ps = %d, want %d", tt.sockets, tt.start, got, tt.want)
			}
			if got := runtime.GOMAXPROCS(0); got != tt.want {
				t.Errorf("GOMAXPROCS in force = %d, want %d", got, tt.want)
			}
		})
	}
}

func TestListenerGC(t *testing.T) {
	orig := debug.SetGCPercent(100)
	t.Cleanup(func() { debug.SetGCPercent(orig) })
	tests := []struct {
		name  string
		env   string // GOGC in the environment; "-" for unset
		start int    // what Go applied at start-up
		want  int
	}{
		{"unset: the listener's own", "-", 100, listenerGCPercent},
		{"an empty one is unset, as for Go", "", 100, listenerGCPercent},
		{"the operator's GOGC wins", "200", 200, 200},
		{"the operator's off wins", "off", -1, -1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			setEnv(t, "GOGC", tt.env)
			debug.SetGCPercent(tt.start)
			if got := listenerGC(); got != tt.want {
				t.Errorf("listenerGC() = %d, want %d", got, tt.want)
			}
			if got := debug.SetGCPercent(tt.start); got != tt.want {
				t.Errorf("GC percent in force = %d, want %d", got, tt.want)
			}
		})
	}
}

// setEnv sets key to v for the test, or unsets it when v is "-".
func setEnv(t *testing.T, key, v string) {
	t.Helper()
	t.Setenv(key, v) // restores the old value when the test ends
	if v == "-" {
		if err := os.Unsetenv(key); err != nil {
			t.Fatal(err)
		}
	}
}
