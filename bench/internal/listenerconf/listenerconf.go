// Package listenerconf writes the listener configuration every benchmark
// runs `rgap listener` with: its groups on one loopback port, all signed
// with one PSK, ready at once and expiring long after a run, and the
// outputs the benchmark measures.
package listenerconf

import (
	"fmt"
	"net/netip"
	"os"
	"strings"
	"time"
)

// Config is one listener configuration.
type Config struct {
	// Listen is where announcements arrive.
	Listen netip.AddrPort
	// PSK (hex) signs every group.
	PSK string
	// Groups are the group ids.
	Groups []uint64
	// Expire is every group's expire (0: the listener's default).
	Expire time.Duration
	// ReceiveBuffer is receive_buffer in bytes (0: not set).
	ReceiveBuffer int
	// HTTPListen is http_listen, the metrics endpoint (zero: off).
	HTTPListen netip.AddrPort
	// Outputs are the outputs, in order.
	Outputs []Output
}

// Output is one output: its kind and its spec, as YAML lines (key: value)
// indented below spec by the writer.
type Output struct {
	Kind string
	Spec []string
}

// Groups returns n consecutive group ids from first.
func Groups(first uint64, n int) []uint64 {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = first + uint64(i)
	}
	return ids
}

// YAML renders c; writer names the benchmark in its first line.
func (c Config) YAML(writer string) []byte {
	var b strings.Builder
	fmt.Fprintf(&b, "# Written by the %s benchmark (bench/) for one measurement.\nlisten:\n  - %s\ngroups:\n", writer, c.Listen)
	for _, g := range c.Groups {
		fmt.Fprintf(&b, "  - id: %d\n    psk: %s\n", g, c.PSK)
		if c.Expire > 0 {
			fmt.Fprintf(&b, "    expire: %s\n", c.Expire)
		}
		b.WriteString("    readiness_delay: 0s\n")
	}
	if c.ReceiveBuffer > 0 {
		fmt.Fprintf(&b, "receive_buffer: %d\n", c.ReceiveBuffer)
	}
	if c.HTTPListen.IsValid() {
		fmt.Fprintf(&b, "http_listen: %s\n", c.HTTPListen)
	}
	if len(c.Outputs) > 0 {
		b.WriteString("outputs:\n")
	}
	for _, o := range c.Outputs {
		fmt.Fprintf(&b, "  - kind: %s\n    spec:\n", o.Kind)
		for _, l := range o.Spec {
			fmt.Fprintf(&b, "      %s\n", l)
		}
	}
	return []byte(b.String())
}

// Write writes c's YAML to path, readable by its owner only (it holds the
// PSK).
func (c Config) Write(path, writer string) error {
	if err := os.WriteFile(path, c.YAML(writer), 0o600); err != nil {
		return fmt.Errorf("write listener configuration: %w", err)
	}
	return nil
}
