package sdktest

import (
	"errors"
	"io/fs"
	"net/netip"
	"testing"
	"time"
)

func TestDecodeSpecUsesTheSDKDecoder(t *testing.T) {
	var sp struct {
		Interval time.Duration `yaml:"interval"`
		Addrs    []netip.Addr  `yaml:"addrs"`
	}
	DecodeSpec(t, "interval: 5s\naddrs: [10.0.0.1, \"fd00::1\"]\n", &sp)
	if sp.Interval != 5*time.Second || len(sp.Addrs) != 2 || sp.Addrs[1] != netip.MustParseAddr("fd00::1") {
		t.Fatalf("decoded %+v", sp)
	}
}

func TestErrorf(t *testing.T) {
	err := Errorf("mappings[0].group", "group %d is %w", 3, fs.ErrNotExist)
	if got, want := err.Error(), "mappings[0].group: group 3 is file does not exist"; got != want {
		t.Errorf("Error() = %q, want %q", got, want)
	}
	if !errors.Is(err, fs.ErrNotExist) {
		t.Error("Errorf does not wrap the %w argument")
	}
}

func TestEventually(t *testing.T) {
	n := 0
	Eventually(t, "the third poll", func() bool { n++; return n == 3 })
	if n != 3 {
		t.Fatalf("cond called %d times, want it polled until true (3)", n)
	}
}
