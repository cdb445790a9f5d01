package config_test

import (
	"testing"
	"time"

	"github.com/rgap-project/rgap/internal/config"
)

// outputs[].hang_timeout is read as a duration; absent, null or 0 leave it
// to the host's default (0 here).
func TestOutputHangTimeout(t *testing.T) {
	src := "listen: [127.0.0.1:8271]\noutputs:\n" +
		"  - kind: noop\n    hang_timeout: 2s\n" +
		"  - kind: noop\n" +
		"  - kind: noop\n    hang_timeout: ~\n" +
		"  - kind: noop\n    hang_timeout: 0\n" +
		"  - kind: noop\n    hang_timeout: 100ms\n"
	cfg, err := config.Parse("rgap.yaml", []byte(src))
	if err != nil {
		t.Fatal(err)
	}
	want := []time.Duration{2 * time.Second, 0, 0, 0, 100 * time.Millisecond}
	for i, w := range want {
		if got := cfg.Outputs[i].HangTimeout; got != w {
			t.Errorf("outputs[%d].hang_timeout = %v, want %v", i, got, w)
		}
	}
}
